import ArbiterCore
import GRPCCore

extension RPCError {
  /// The gRPC status for a domain error: the code maps one to one, the message is kept.
  public init(_ error: ArbiterError) {
    let code: RPCError.Code
    switch error.code {
    case .notFound: code = .notFound
    case .invalidArgument: code = .invalidArgument
    case .failedPrecondition: code = .failedPrecondition
    case .dataCorrupted: code = .dataLoss
    case .unimplemented: code = .unimplemented
    case .alreadyExists: code = .alreadyExists
    case .resourceExhausted: code = .resourceExhausted
    case .deadlineExceeded: code = .deadlineExceeded
    case .unauthenticated: code = .unauthenticated
    case .permissionDenied: code = .permissionDenied
    default: code = .internalError
    }
    self.init(code: code, message: error.message)
  }
}

/// Runs a domain operation, turning its ``ArbiterError`` into the matching gRPC status.
@inlinable
func mappingErrors<T>(_ body: () throws(ArbiterError) -> T) throws(RPCError) -> T {
  do { return try body() } catch { throw RPCError(error) }
}
