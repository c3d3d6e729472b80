import NIOCore

/// One frame of the lean protocol (docs/lean-protocol.md): a length-prefixed header and payload.
///
///     u32 length   bytes after this field (8 ... maxFrameSize)
///     u8  type     1 request, 2 response, 3 hello (the connection's credential), 4 error (then
///                  the connection closes)
///     u8  flags    0
///     u16 reserved 0
///     u32 stream   the client's id for the call (nonzero; 0 on hello and error frames and the
///                  hello's answer)
///     ... payload
///
/// ``LeanFrameDecoder`` reads frames from a byte stream, ``LeanFrameEncoder`` writes them.
public struct LeanFrame: Sendable, Equatable {
  /// The frame's type byte.
  public enum Kind: UInt8, Sendable {
    /// A call from the client: ``LeanRequestHead`` then the request message.
    case request = 1
    /// The answer to a call: ``LeanResponseHead`` then the response message.
    case response = 2
    /// The client's credential for the connection (an API key or a signed token), on stream 0;
    /// answered by a response on stream 0.
    case hello = 3
    /// A protocol violation, on stream 0; the server closes the connection after it.
    case error = 4
  }

  /// The frame's type.
  public var kind: Kind
  /// The call's id, chosen by the client (0 only on error frames).
  public var stream: UInt32
  /// The bytes after the 12-byte header.
  public var payload: ByteBuffer

  /// The bytes a client sends first: "ARB1".
  public static let preamble: [UInt8] = Array("ARB1".utf8)
  /// The length field, type, flags, reserved bits and stream id.
  public static let headerSize = 12
  /// The largest frame accepted unless configured otherwise (4 MiB).
  public static let defaultMaxFrameSize = 4 * 1024 * 1024

  /// A frame of `kind` on `stream` carrying `payload`.
  public init(kind: Kind, stream: UInt32, payload: ByteBuffer) {
    self.kind = kind
    self.stream = stream
    self.payload = payload
  }
}
