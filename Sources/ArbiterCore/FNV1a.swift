/// FNV-1a, 64-bit: a stable hash of bytes (Swift's `Hasher` is seeded per process, so it cannot
/// key anything that must stay the same across restarts, such as control groups or shadow shares).
public struct FNV1a: Sendable {
  public private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325

  public init() {}

  public mutating func combine(_ text: String) {
    for byte in text.utf8 { combine(byte) }
  }

  public mutating func combine(_ byte: UInt8) { value = (value ^ UInt64(byte)) &* 0x100_0000_01b3 }

  /// The hash of one string.
  public static func hash(_ text: String) -> UInt64 {
    var h = FNV1a()
    h.combine(text)
    return h.value
  }
}
