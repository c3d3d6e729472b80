import NIOCore

/// The head of a response (or error) payload: the gRPC status, its message and the request's
/// request id. The rest of the payload is the response message (empty unless the status is OK).
///
///     u16 status (a gRPC status code), u16 message length, message
///     u8  request-id length, request id
public struct LeanResponseHead: Sendable, Equatable {
  /// The gRPC status code's number (0 OK).
  public var status: Int
  /// The status message (empty when OK).
  public var message: String
  /// The request's request id.
  public var requestId: String

  /// A head with `status`, `message` and `requestId`.
  public init(status: Int, message: String, requestId: String) {
    self.status = status
    self.message = message
    self.requestId = requestId
  }

  /// Reads the head off the front of `payload`, leaving the response message.
  public init(parsing payload: inout ByteBuffer) throws(LeanProtocolError) {
    guard let status: UInt16 = payload.readInteger(), let length: UInt16 = payload.readInteger(),
      let message = payload.readString(length: Int(length)), let idLength: UInt8 = payload.readInteger(),
      let requestId = payload.readString(length: Int(idLength))
    else { throw LeanProtocolError(message: "response header is truncated") }
    self.init(status: Int(status), message: message, requestId: requestId)
  }
}
