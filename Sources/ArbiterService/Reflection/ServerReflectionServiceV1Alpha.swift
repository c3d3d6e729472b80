import ArbiterAPI
import GRPCCore

/// `grpc.reflection.v1alpha.ServerReflection`: the same as ``ServerReflectionService``, for the clients that still ask the older package (grpcio-reflection's among them).
/// Each request on the stream is answered in order from a ``ReflectionIndex``.
public struct ServerReflectionServiceV1Alpha: Grpc_Reflection_V1alpha_ServerReflection.SimpleServiceProtocol {
  typealias Request = Grpc_Reflection_V1alpha_ServerReflectionRequest
  typealias Response = Grpc_Reflection_V1alpha_ServerReflectionResponse
  let index: ReflectionIndex

  /// The service answering from `index`.
  public init(index: ReflectionIndex) { self.index = index }

  /// Answers every request of the stream, in order.
  public func serverReflectionInfo(
    request: RPCAsyncSequence<Grpc_Reflection_V1alpha_ServerReflectionRequest, any Error>,
    response: RPCWriter<Grpc_Reflection_V1alpha_ServerReflectionResponse>, context: ServerContext
  ) async throws {
    for try await question in request {
      try await response.write(Self.response(to: question, index.answer(Self.question(of: question))))
    }
  }

  static func question(of request: Request) -> ReflectionIndex.Question {
    switch request.messageRequest {
    case .fileByFilename(let name): .fileByFilename(name)
    case .fileContainingSymbol(let symbol): .fileContainingSymbol(symbol)
    case .fileContainingExtension(let ext):
      .fileContainingExtension(type: ext.containingType, number: ext.extensionNumber)
    case .allExtensionNumbersOfType(let type): .allExtensionNumbersOfType(type)
    case .listServices: .listServices
    case nil: .nothing
    }
  }

  static func response(to request: Request, _ answer: ReflectionIndex.Answer) -> Response {
    .with {
      $0.validHost = request.host
      $0.originalRequest = request
      switch answer {
      case .files(let files): $0.fileDescriptorResponse = .with { $0.fileDescriptorProto = files }
      case .services(let names):
        $0.listServicesResponse = .with { $0.service = names.map { name in .with { $0.name = name } } }
      case .extensionNumbers(let type, let numbers):
        $0.allExtensionNumbersResponse = .with {
          $0.baseTypeName = type
          $0.extensionNumber = numbers
        }
      case .error(let code, let message):
        $0.errorResponse = .with {
          $0.errorCode = code
          $0.errorMessage = message
        }
      }
    }
  }
}
