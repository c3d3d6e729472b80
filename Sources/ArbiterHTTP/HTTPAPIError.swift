import ArbiterCore
import Foundation
import GRPCCore
import HTTPTypes
import Hummingbird
import NIOCore

/// An error as the HTTP door answers it: the gRPC code (by its canonical name), a message
/// naming the field at fault, and the HTTP status gRPC's HTTP mapping gives the code.
public struct HTTPAPIError: HTTPResponseError, Sendable {
  /// The gRPC status code.
  public var code: RPCError.Code
  /// What was wrong, naming the field.
  public var message: String
  /// A status other than the code's own mapping (413 for a body over the limit, 405).
  public var statusOverride: HTTPResponse.Status?
  /// For a 405: the methods the path is served with.
  public var allow: String?

  /// An error with `code` and `message`.
  public init(_ code: RPCError.Code, _ message: String, status: HTTPResponse.Status? = nil) {
    self.code = code
    self.message = message
    self.statusOverride = status
  }

  /// The HTTP error for a domain error (through its gRPC status, as the other doors map it).
  public init(_ error: ArbiterError) {
    let status = RPCError(error)
    self.init(status.code, status.message)
  }

  /// A request body over the configured limit (413).
  static let bodyOverLimit = HTTPAPIError(
    .resourceExhausted, "the request body is over the limit", status: .contentTooLarge)

  /// The HTTP status for the code, as google.rpc.Code documents it.
  public var status: HTTPResponse.Status { statusOverride ?? Self.httpStatus(of: code) }

  /// google.rpc.Code's HTTP mapping.
  public static func httpStatus(of code: RPCError.Code) -> HTTPResponse.Status {
    switch code {
    case .invalidArgument, .failedPrecondition, .outOfRange: return .badRequest
    case .unauthenticated: return .unauthorized
    case .permissionDenied: return .forbidden
    case .notFound: return .notFound
    case .alreadyExists, .aborted: return .conflict
    case .resourceExhausted: return .tooManyRequests
    case .cancelled: return HTTPResponse.Status(code: 499, reasonPhrase: "Client Closed Request")
    case .unimplemented: return .notImplemented
    case .unavailable: return .serviceUnavailable
    case .deadlineExceeded: return .gatewayTimeout
    default: return .internalServerError
    }
  }

  /// The code's canonical name, e.g. "INVALID_ARGUMENT".
  public static func name(of code: RPCError.Code) -> String { code.canonicalName }

  /// The JSON body: `{"code": …, "message": …, "httpStatus": …}`.
  public var body: [UInt8] {
    let object: [String: Any] = [
      "code": Self.name(of: code), "message": message, "httpStatus": Int(status.code),
    ]
    let data =
      (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
    return [UInt8](data)
  }

  /// The response: the status and the JSON body.
  public func response(from request: Request, context: some RequestContext) throws -> Response {
    var headers = HTTPFields()
    headers[.contentType] = "application/json"
    if let allow { headers[.allow] = allow }
    return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
  }
}
