/// A fast, non-cryptographic 64-bit checksum (four independent multiply-rotate lanes over
/// 8-byte words, then a tail): detects torn and corrupted snapshot sections and log records at
/// memory speed. Not for security; bundles use SHA-256.
public enum FastHash {
  @usableFromInline static let prime1: UInt64 = 0x9E37_79B1_85EB_CA87
  @usableFromInline static let prime2: UInt64 = 0xC2B2_AE3D_27D4_EB4F
  @usableFromInline static let prime3: UInt64 = 0x1656_67B1_9E37_79F9

  @inline(__always) @usableFromInline
  static func round(_ accumulator: UInt64, _ input: UInt64) -> UInt64 {
    var a = accumulator &+ input &* prime2
    a = (a << 31) | (a >> 33)
    return a &* prime1
  }

  /// The checksum of `count` bytes at `pointer`.
  public static func hash(_ pointer: UnsafeRawPointer, count: Int, seed: UInt64 = 0) -> UInt64 {
    var v1 = seed &+ prime1 &+ prime2, v2 = seed &+ prime2, v3 = seed, v4 = seed &- prime1
    var offset = 0
    while offset + 32 <= count {
      v1 = round(v1, pointer.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
      v2 = round(v2, pointer.loadUnaligned(fromByteOffset: offset + 8, as: UInt64.self))
      v3 = round(v3, pointer.loadUnaligned(fromByteOffset: offset + 16, as: UInt64.self))
      v4 = round(v4, pointer.loadUnaligned(fromByteOffset: offset + 24, as: UInt64.self))
      offset += 32
    }
    var h =
      ((v1 << 1) | (v1 >> 63)) &+ ((v2 << 7) | (v2 >> 57)) &+ ((v3 << 12) | (v3 >> 52)) &+ ((v4 << 18) | (v4 >> 46))
    h ^= UInt64(truncatingIfNeeded: count) &* prime3
    while offset + 8 <= count {
      h = round(h, pointer.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
      offset += 8
    }
    while offset < count {
      h = (h ^ UInt64(pointer.load(fromByteOffset: offset, as: UInt8.self))) &* prime1
      offset += 1
    }
    h ^= h >> 33
    h = h &* prime2
    h ^= h >> 29
    h = h &* prime3
    h ^= h >> 32
    return h
  }

  /// The hash of `bytes` (a checksum of snapshot sections, not a cryptographic hash).
  public static func hash(_ bytes: [UInt8]) -> UInt64 {
    bytes.withUnsafeBytes { hash($0.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!, count: $0.count) }
  }
}
