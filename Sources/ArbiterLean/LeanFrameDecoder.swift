import NIOCore

/// Splits the byte stream into frames: checks the preamble once, then enforces the frame size
/// limit before buffering a frame. Violations are thrown as ``LeanProtocolError``.
public struct LeanFrameDecoder: ByteToMessageDecoder {
  /// The frames read.
  public typealias InboundOut = LeanFrame
  let maxFrameSize: Int
  let expectsPreamble: Bool
  private var sawPreamble = false

  /// A decoder refusing frames longer than `maxFrameSize`; `expectsPreamble` on the server's
  /// side (the client sends "ARB1" first), not on the client's.
  public init(maxFrameSize: Int = LeanFrame.defaultMaxFrameSize, expectsPreamble: Bool) {
    self.maxFrameSize = maxFrameSize
    self.expectsPreamble = expectsPreamble
  }

  /// Reads the preamble (once) and then one frame, when all of it has arrived.
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
      throw LeanProtocolError(
        message: "frame of \(length) bytes exceeds the maximum frame size of \(maxFrameSize) bytes")
    }
    guard buffer.readableBytes >= 4 + Int(length) else { return .needMoreData }
    buffer.moveReaderIndex(forwardBy: 4)
    let rawKind: UInt8 = buffer.readInteger()!
    let flags: UInt8 = buffer.readInteger()!
    let reserved: UInt16 = buffer.readInteger()!
    let stream: UInt32 = buffer.readInteger()!
    let payload = buffer.readSlice(length: Int(length) - 8)!
    guard let kind = LeanFrame.Kind(rawValue: rawKind) else {
      throw LeanProtocolError(message: "unknown frame type \(rawKind)")
    }
    guard flags == 0, reserved == 0 else { throw LeanProtocolError(message: "frame flags and reserved bits must be 0") }
    context.fireChannelRead(wrapInboundOut(LeanFrame(kind: kind, stream: stream, payload: payload)))
    return .continue
  }

  /// Reads the whole frames left at the end of the stream.
  public mutating func decodeLast(
    context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool
  ) throws -> DecodingState {
    while try decode(context: context, buffer: &buffer) == .continue {}
    return .needMoreData
  }
}
