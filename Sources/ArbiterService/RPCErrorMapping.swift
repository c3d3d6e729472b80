import ArbiterCore
import GRPCCore

extension RPCError {
  /// The longest status message sent: gRPC sends it as a header (`grpc-message`), and clients
  /// refuse headers past their limit (8 KiB is common), so a message quoting a huge input is cut.
  public static let messageLimit = 1_024

  /// The gRPC status for a domain error: the code maps one to one, the message is kept (cut at
  /// ``messageLimit`` characters, saying so).
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
    self.init(code: code, message: Self.bounded(error.message))
  }

  /// `message`, cut to ``messageLimit`` characters with a note of its full length.
  public static func bounded(_ message: String) -> String {
    guard message.count > messageLimit else { return message }
    return "\(message.prefix(messageLimit - 40))… (cut; the message had \(message.count) characters)"
  }
}

/// Runs a domain operation, turning its ``ArbiterError`` into the matching gRPC status.
@inlinable
func mappingErrors<T>(_ body: () throws(ArbiterError) -> T) throws(RPCError) -> T {
  do { return try body() } catch { throw RPCError(error) }
}

extension RPCError.Code {
  /// The code's canonical name, as google.rpc.Code spells it, e.g. "INVALID_ARGUMENT".
  public var canonicalName: String {
    switch self {
    case .cancelled: return "CANCELLED"
    case .unknown: return "UNKNOWN"
    case .invalidArgument: return "INVALID_ARGUMENT"
    case .deadlineExceeded: return "DEADLINE_EXCEEDED"
    case .notFound: return "NOT_FOUND"
    case .alreadyExists: return "ALREADY_EXISTS"
    case .permissionDenied: return "PERMISSION_DENIED"
    case .resourceExhausted: return "RESOURCE_EXHAUSTED"
    case .failedPrecondition: return "FAILED_PRECONDITION"
    case .aborted: return "ABORTED"
    case .outOfRange: return "OUT_OF_RANGE"
    case .unimplemented: return "UNIMPLEMENTED"
    case .internalError: return "INTERNAL"
    case .unavailable: return "UNAVAILABLE"
    case .dataLoss: return "DATA_LOSS"
    case .unauthenticated: return "UNAUTHENTICATED"
    default: return "UNKNOWN"
    }
  }
}
