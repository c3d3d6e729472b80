/// An error from Arbiter's domain: an extensible code and a message that names the problem.
///
/// The service layer maps ``Code`` to a gRPC status; command-line tools print ``message``.
public struct ArbiterError: Error, Hashable, Sendable, CustomStringConvertible {
  /// What kind of failure this is. New codes can be added without breaking callers.
  public struct Code: Hashable, Sendable, CustomStringConvertible {
    private enum Wrapped: Hashable, Sendable {
      case notFound, invalidArgument, failedPrecondition, dataCorrupted, unimplemented, internalError
      case alreadyExists, resourceExhausted, deadlineExceeded, unauthenticated, permissionDenied
    }
    private let wrapped: Wrapped
    private init(_ wrapped: Wrapped) { self.wrapped = wrapped }

    /// Something named by the caller (a customer, a decision, an offer) does not exist.
    public static let notFound = Code(.notFound)
    /// The caller's input is missing or malformed.
    public static let invalidArgument = Code(.invalidArgument)
    /// The request is valid but the system is not in a state to serve it.
    public static let failedPrecondition = Code(.failedPrecondition)
    /// A file or record on disk is damaged (bad checksum, truncated, unparseable).
    public static let dataCorrupted = Code(.dataCorrupted)
    /// The capability exists in the API but not in this build.
    public static let unimplemented = Code(.unimplemented)
    /// A broken invariant: a bug.
    public static let internalError = Code(.internalError)
    /// Something with the same identity exists already.
    public static let alreadyExists = Code(.alreadyExists)
    /// A limit was reached.
    public static let resourceExhausted = Code(.resourceExhausted)
    /// The caller's deadline passed before the work was done; nothing was changed.
    public static let deadlineExceeded = Code(.deadlineExceeded)
    /// The caller gave no credentials, or ones that are not valid (unknown, expired, forged).
    public static let unauthenticated = Code(.unauthenticated)
    /// The caller is known but lacks the role the request needs.
    public static let permissionDenied = Code(.permissionDenied)

    /// The code's name in words, e.g. "not found".
    public var description: String {
      switch wrapped {
      case .notFound: "not found"
      case .invalidArgument: "invalid argument"
      case .failedPrecondition: "failed precondition"
      case .dataCorrupted: "data corrupted"
      case .unimplemented: "unimplemented"
      case .internalError: "internal error"
      case .alreadyExists: "already exists"
      case .resourceExhausted: "resource exhausted"
      case .deadlineExceeded: "deadline exceeded"
      case .unauthenticated: "unauthenticated"
      case .permissionDenied: "permission denied"
      }
    }
  }

  /// What kind of failure this is; the service layer maps it to a gRPC status.
  public var code: Code
  /// A human-readable account of the problem, naming the file, field or identifier concerned.
  public var message: String

  /// Creates an error with a code and a message that names the problem.
  public init(_ code: Code, _ message: String) {
    self.code = code
    self.message = message
  }

  /// The code and the message, e.g. "not found: bundle directory 'models/x' does not exist".
  public var description: String { "\(code): \(message)" }
}
