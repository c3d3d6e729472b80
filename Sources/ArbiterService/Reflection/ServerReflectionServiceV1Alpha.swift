import ArbiterAPI
import GRPCCore
import SwiftProtobuf

/// `grpc.reflection.v1alpha.ServerReflection`: the same as ``ServerReflectionService``, for the
/// clients that still ask the older package (grpcio-reflection's among them). Its messages are
/// v1's on the wire (the same fields and numbers), so each is read as v1, answered by v1's
/// mapping, and written back as v1alpha.
public struct ServerReflectionServiceV1Alpha: Grpc_Reflection_V1alpha_ServerReflection.SimpleServiceProtocol {
  let index: ReflectionIndex

  /// The service answering from `index`.
  public init(index: ReflectionIndex) { self.index = index }

  /// Answers every request of the stream, in order.
  public func serverReflectionInfo(
    request: RPCAsyncSequence<Grpc_Reflection_V1alpha_ServerReflectionRequest, any Error>,
    response: RPCWriter<Grpc_Reflection_V1alpha_ServerReflectionResponse>, context: ServerContext
  ) async throws {
    for try await question in request {
      let v1 = try Self.convert(question, to: Grpc_Reflection_V1_ServerReflectionRequest.self)
      let answer = ServerReflectionService.response(to: v1, index.answer(ServerReflectionService.question(of: v1)))
      try await response.write(try Self.convert(answer, to: Grpc_Reflection_V1alpha_ServerReflectionResponse.self))
    }
  }

  /// `message` read as the wire-identical `type`.
  static func convert<Target: Message>(_ message: some Message, to type: Target.Type) throws -> Target {
    let bytes: [UInt8] = try message.serializedBytes()
    return try Target(serializedBytes: bytes)
  }
}
