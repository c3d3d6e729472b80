import ArbiterCore
import NIOCore

/// One frame of the lean protocol (docs/lean-protocol.md): a length-prefixed header and payload.
///
///     u32 length   bytes after this field (8 ... maxFrameSize)
///     u8  type     1 request, 2 response, 4 error (then the connection closes)
///     u8  flags    0
///     u16 reserved 0
///     u32 stream   the client's id for the call (nonzero; 0 only on error frames)
///     ... payload
public struct LeanFrame: Sendable {
  public enum Kind: UInt8, Sendable {
    case request = 1
    case response = 2
    case error = 4
  }

  public var kind: Kind
  public var stream: UInt32
  public var payload: ByteBuffer

  /// The bytes a client sends first: "ARB1".
  public static let preamble: [UInt8] = Array("ARB1".utf8)
  public static let headerSize = 12
  public static let defaultMaxFrameSize = 4 * 1024 * 1024

  public init(kind: Kind, stream: UInt32, payload: ByteBuffer) {
    self.kind = kind
    self.stream = stream
    self.payload = payload
  }
}

/// A lean-protocol violation: the connection gets an error frame naming it, then is closed.
public struct LeanProtocolError: Error, Sendable {
  public var message: String
}

/// Splits the byte stream into frames: checks the preamble once, then enforces the frame size
/// limit before buffering a frame.
public struct LeanFrameDecoder: ByteToMessageDecoder {
  public typealias InboundOut = LeanFrame
  let maxFrameSize: Int
  let expectsPreamble: Bool
  private var sawPreamble = false

  public init(maxFrameSize: Int = LeanFrame.defaultMaxFrameSize, expectsPreamble: Bool) {
    self.maxFrameSize = maxFrameSize
    self.expectsPreamble = expectsPreamble
  }

  public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
    if expectsPreamble && !sawPreamble {
      guard buffer.readableBytes >= 4 else { return .needMoreData }
      guard buffer.readBytes(length: 4) == LeanFrame.preamble else {
        throw LeanProtocolError(message: "the connection does not start with the lean protocol's preamble \"ARB1\"")
      }
      sawPreamble = true
    }
    guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else { return .needMoreData }
    guard length >= 8 else { throw LeanProtocolError(message: "frame length \(length) is below the 8-byte header") }
    guard Int(length) <= maxFrameSize else {
      throw LeanProtocolError(message: "frame of \(length) bytes exceeds the maximum frame size of \(maxFrameSize) bytes")
    }
    guard buffer.readableBytes >= 4 + Int(length) else { return .needMoreData }
    buffer.moveReaderIndex(forwardBy: 4)
    let rawKind: UInt8 = buffer.readInteger()!
    let flags: UInt8 = buffer.readInteger()!
    let reserved: UInt16 = buffer.readInteger()!
    let stream: UInt32 = buffer.readInteger()!
    let payload = buffer.readSlice(length: Int(length) - 8)!
    guard let kind = LeanFrame.Kind(rawValue: rawKind) else { throw LeanProtocolError(message: "unknown frame type \(rawKind)") }
    guard flags == 0, reserved == 0 else { throw LeanProtocolError(message: "frame flags and reserved bits must be 0") }
    context.fireChannelRead(wrapInboundOut(LeanFrame(kind: kind, stream: stream, payload: payload)))
    return .continue
  }

  public mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
    while try decode(context: context, buffer: &buffer) == .continue {}
    return .needMoreData
  }
}

/// The request and response payload headers.
public enum LeanMessage {
  /// Writes a whole request frame: header, then method, timeout in microseconds (0: none),
  /// request id and message bytes.
  public static func writeRequestFrame(
    stream: UInt32, method: some Collection<UInt8>, timeoutMicros: UInt32, requestId: some Collection<UInt8>, message: [UInt8],
    into out: inout ByteBuffer
  ) {
    writeHeader(.request, stream: stream, payloadLength: 2 + method.count + 4 + 1 + requestId.count + message.count, into: &out)
    out.writeInteger(UInt16(method.count))
    out.writeBytes(method)
    out.writeInteger(timeoutMicros)
    out.writeInteger(UInt8(requestId.count))
    out.writeBytes(requestId)
    out.writeBytes(message)
  }

  /// The 12-byte frame header for a payload of `payloadLength` bytes.
  static func writeHeader(_ kind: LeanFrame.Kind, stream: UInt32, payloadLength: Int, into out: inout ByteBuffer) {
    out.writeInteger(UInt32(8 + payloadLength))
    out.writeInteger(kind.rawValue)
    out.writeInteger(UInt8(0))
    out.writeInteger(UInt16(0))
    out.writeInteger(stream)
  }

  /// Parses a request payload.
  public static func parseRequest(_ payload: inout ByteBuffer) throws(LeanProtocolError) -> (method: String, timeoutMicros: UInt32, requestId: String) {
    guard let methodLength: UInt16 = payload.readInteger(), let method = payload.readString(length: Int(methodLength)),
      let timeout: UInt32 = payload.readInteger(), let idLength: UInt8 = payload.readInteger(),
      let requestId = payload.readString(length: Int(idLength))
    else { throw LeanProtocolError(message: "request header is truncated") }
    return (method, timeout, requestId)
  }

  /// Writes a whole response (or error) frame: header, then gRPC status code, message, request
  /// id, and the message bytes when OK.
  public static func writeResponseFrame(
    _ kind: LeanFrame.Kind = .response, stream: UInt32, status: Int, message: String, requestId: String, body: [UInt8],
    into out: inout ByteBuffer
  ) {
    writeResponseFrame(kind, stream: stream, status: status, message: message, requestId: requestId, bodyLength: body.count, into: &out) {
      $0.writeBytes(body)
    }
  }

  /// Writes a response frame whose body `writeBody` writes (exactly `bodyLength` bytes).
  static func writeResponseFrame(
    _ kind: LeanFrame.Kind = .response, stream: UInt32, status: Int, message: String, requestId: String, bodyLength: Int,
    into out: inout ByteBuffer, _ writeBody: (inout ByteBuffer) -> Void
  ) {
    let text = message.utf8.count > 65_535 ? String(message.utf8.prefix(65_535))! : message
    writeHeader(kind, stream: stream, payloadLength: 5 + text.utf8.count + requestId.utf8.count + bodyLength, into: &out)
    out.writeInteger(UInt16(status))
    out.writeInteger(UInt16(text.utf8.count))
    out.writeString(text)
    out.writeInteger(UInt8(requestId.utf8.count))
    out.writeString(requestId)
    let start = out.writerIndex
    writeBody(&out)
    precondition(out.writerIndex - start == bodyLength, "lean response body of \(out.writerIndex - start) bytes, announced \(bodyLength)")
  }

  /// Parses a response payload; the rest of `payload` is the message.
  public static func parseResponse(_ payload: inout ByteBuffer) throws(LeanProtocolError) -> (status: Int, message: String, requestId: String) {
    guard let status: UInt16 = payload.readInteger(), let length: UInt16 = payload.readInteger(),
      let message = payload.readString(length: Int(length)), let idLength: UInt8 = payload.readInteger(),
      let requestId = payload.readString(length: Int(idLength))
    else { throw LeanProtocolError(message: "response header is truncated") }
    return (Int(status), message, requestId)
  }
}
