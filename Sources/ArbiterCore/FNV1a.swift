/// FNV-1a, 64-bit: a stable hash of bytes (Swift's `Hasher` is seeded per process, so it cannot
/// key anything that must stay the same across restarts, such as control groups or shadow shares).
public struct FNV1a: Sendable {
  /// The hash of the bytes combined so far (starts at the FNV-1a 64-bit offset basis).
  public private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325

  /// Starts a hash of no bytes.
  public init() {}

  /// Adds the UTF-8 bytes of a string to the hash.
  public mutating func combine(_ text: String) {
    for byte in text.utf8 { combine(byte) }
  }

  /// Adds one byte to the hash.
  public mutating func combine(_ byte: UInt8) { value = (value ^ UInt64(byte)) &* 0x100_0000_01b3 }

  /// The hash of one string.
  public static func hash(_ text: String) -> UInt64 {
    var h = FNV1a()
    h.combine(text)
    return h.value
  }
}
