import GRPCCore
import NIOCore

/// Writes lean-protocol frames. As a `MessageToByteEncoder` it writes whole ``LeanFrame``s; its
/// static writers put request and response frames straight into an output buffer, which is how
/// the server's handler answers (many responses in one buffer, flushed once per read burst).
public struct LeanFrameEncoder: MessageToByteEncoder, Sendable {
  /// The frames written.
  public typealias OutboundIn = LeanFrame

  /// An encoder.
  public init() {}

  /// Writes `data`'s header and payload.
  public func encode(data: LeanFrame, out: inout ByteBuffer) throws {
    Self.writeHeader(data.kind, stream: data.stream, payloadLength: data.payload.readableBytes, into: &out)
    var payload = data.payload
    out.writeBuffer(&payload)
  }

  /// The 12-byte frame header for a payload of `payloadLength` bytes.
  public static func writeHeader(
    _ kind: LeanFrame.Kind, stream: UInt32, payloadLength: Int, into out: inout ByteBuffer
  ) {
    out.writeInteger(UInt32(8 + payloadLength))
    out.writeInteger(kind.rawValue)
    out.writeInteger(UInt8(0))
    out.writeInteger(UInt16(0))
    out.writeInteger(stream)
  }

  /// Writes a whole request frame: header, then method, timeout in microseconds (0: none),
  /// request id and message bytes.
  public static func writeRequestFrame(
    stream: UInt32, method: some Collection<UInt8>, timeoutMicros: UInt32, requestId: some Collection<UInt8>,
    message: [UInt8], into out: inout ByteBuffer
  ) {
    let payloadLength = 2 + method.count + 4 + 1 + requestId.count + message.count
    writeHeader(.request, stream: stream, payloadLength: payloadLength, into: &out)
    out.writeInteger(UInt16(method.count))
    out.writeBytes(method)
    out.writeInteger(timeoutMicros)
    out.writeInteger(UInt8(requestId.count))
    out.writeBytes(requestId)
    out.writeBytes(message)
  }

  /// Writes a whole response (or error) frame: header, then gRPC status code, message, request
  /// id, and the message bytes when OK.
  public static func writeResponseFrame(
    _ kind: LeanFrame.Kind = .response, stream: UInt32, status: Status.Code, message: String, requestId: String,
    body: [UInt8], into out: inout ByteBuffer
  ) {
    writeResponseFrame(
      kind, stream: stream, status: status, message: message, requestId: requestId, bodyLength: body.count, into: &out
    ) {
      $0.writeBytes(body)
    }
  }

  /// Writes a response frame whose body `writeBody` writes (exactly `bodyLength` bytes).
  package static func writeResponseFrame(
    _ kind: LeanFrame.Kind = .response, stream: UInt32, status: Status.Code, message: String, requestId: String,
    bodyLength: Int, into out: inout ByteBuffer, _ writeBody: (inout ByteBuffer) -> Void
  ) {
    let text = message.utf8.count > 65_535 ? String(message.utf8.prefix(65_535))! : message
    let payloadLength = 5 + text.utf8.count + requestId.utf8.count + bodyLength
    writeHeader(kind, stream: stream, payloadLength: payloadLength, into: &out)
    out.writeInteger(UInt16(status.rawValue))
    out.writeInteger(UInt16(text.utf8.count))
    out.writeString(text)
    out.writeInteger(UInt8(requestId.utf8.count))
    out.writeString(requestId)
    let start = out.writerIndex
    writeBody(&out)
    let written = out.writerIndex - start
    precondition(written == bodyLength, "lean response body of \(written) bytes, announced \(bodyLength)")
  }
}
