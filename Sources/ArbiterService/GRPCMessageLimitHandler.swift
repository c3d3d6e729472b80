import NIOCore
import NIOHPACK
import NIOHTTP2

/// Refuses a gRPC request message over the door's size limit with RESOURCE_EXHAUSTED naming the
/// limit, as trailers the client reads, instead of the stream reset (seen by the client as
/// CANCELLED) that grpc-swift's transport answers with. It sits first in each HTTP/2 stream's
/// pipeline and reads only the 5-byte length prefixes of the messages passing through.
public final class GRPCMessageLimitHandler: ChannelInboundHandler, RemovableChannelHandler {
  /// A stream's frames, as the client sends them.
  public typealias InboundIn = HTTP2Frame.FramePayload
  /// The same frames, passed on to grpc-swift's stream handler.
  public typealias InboundOut = HTTP2Frame.FramePayload
  /// The refusal's trailers.
  public typealias OutboundOut = HTTP2Frame.FramePayload

  /// The largest request message accepted, in bytes.
  public let limit: Int
  /// Bytes of the current message still to pass, after its prefix.
  private var remaining = 0
  /// The prefix being read (1 flag byte, 4 length bytes), when split across frames.
  private var prefix: [UInt8] = []
  private var refused = false

  /// A handler refusing messages over `limit` bytes.
  public init(limit: Int) { self.limit = limit }

  /// Passes a frame on, or refuses the stream at a message over the limit (and drops the rest).
  public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    guard !refused else { return }
    guard case .data(let frame) = unwrapInboundIn(data), case .byteBuffer(let buffer) = frame.data else {
      return context.fireChannelRead(data)
    }
    if let length = oversizedMessage(in: buffer) { return refuse(length: length, context: context) }
    context.fireChannelRead(data)
  }

  /// Follows the messages through `buffer`; the length of the first one over the limit, if any.
  private func oversizedMessage(in buffer: ByteBuffer) -> Int? {
    var offset = buffer.readerIndex
    let end = buffer.writerIndex
    while offset < end {
      if remaining > 0 {
        let skipped = min(remaining, end - offset)
        remaining -= skipped
        offset += skipped
        continue
      }
      prefix.append(buffer.getInteger(at: offset, as: UInt8.self)!)
      offset += 1
      guard prefix.count == 5 else { continue }
      let length = Int(prefix[1]) << 24 | Int(prefix[2]) << 16 | Int(prefix[3]) << 8 | Int(prefix[4])
      prefix.removeAll(keepingCapacity: true)
      if length > limit { return length }
      remaining = length
    }
    return nil
  }

  /// Answers trailers-only with RESOURCE_EXHAUSTED and closes the stream (the rest of the
  /// message is not wanted).
  private func refuse(length: Int, context: ChannelHandlerContext) {
    refused = true
    let message = "the request message of \(length) bytes is over the gRPC door's limit of \(limit) bytes"
    context.writeAndFlush(wrapOutboundOut(Self.resourceExhausted(message)))
      .whenComplete { _ in context.close(promise: nil) }
  }

  /// A trailers-only answer ending the stream: RESOURCE_EXHAUSTED with `message`.
  static func resourceExhausted(_ message: String) -> HTTP2Frame.FramePayload {
    let trailers: HPACKHeaders = [
      ":status": "200", "content-type": "application/grpc", "grpc-status": "8",
      "grpc-message": percentEncoded(message),
    ]
    return .headers(.init(headers: trailers, endStream: true))
  }

  /// `grpc-message`'s encoding: printable ASCII but `%` as is, every other byte `%XX`.
  static func percentEncoded(_ text: String) -> String {
    var out = ""
    for byte in text.utf8 {
      if byte >= 0x20 && byte <= 0x7E && byte != UInt8(ascii: "%") {
        out.unicodeScalars.append(Unicode.Scalar(byte))
      } else {
        out += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
      }
    }
    return out
  }
}

extension String {
  fileprivate func leftPadded(to width: Int) -> String {
    count >= width ? self : String(repeating: "0", count: width - count) + self
  }
}
