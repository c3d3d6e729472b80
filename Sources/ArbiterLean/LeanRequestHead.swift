import NIOCore

/// The head of a request payload: which method, its timeout, and the caller's request id. The
/// rest of the payload is the request message.
///
///     u16 method length, method (the gRPC path, e.g. "/arbiter.v1.DecisionService/Decide")
///     u32 timeout in microseconds from when the server reads the frame (0: none)
///     u8  request-id length, request id
public struct LeanRequestHead: Sendable, Equatable {
  /// The gRPC path of the method called.
  public var method: String
  /// The call's timeout in microseconds, counted from when the server reads the frame; 0: none.
  public var timeoutMicros: UInt32
  /// Any bytes the caller wants echoed in the response.
  public var requestId: String

  /// A head calling `method`.
  public init(method: String, timeoutMicros: UInt32, requestId: String) {
    self.method = method
    self.timeoutMicros = timeoutMicros
    self.requestId = requestId
  }

  /// Reads the head off the front of `payload`, leaving the request message.
  public init(parsing payload: inout ByteBuffer) throws(LeanProtocolError) {
    guard let methodLength: UInt16 = payload.readInteger(), let method = payload.readString(length: Int(methodLength)),
      let timeout: UInt32 = payload.readInteger(), let idLength: UInt8 = payload.readInteger(),
      let requestId = payload.readString(length: Int(idLength))
    else { throw LeanProtocolError(message: "request header is truncated") }
    self.init(method: method, timeoutMicros: timeout, requestId: requestId)
  }
}
