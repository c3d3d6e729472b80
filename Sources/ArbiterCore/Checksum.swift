import Crypto

/// File and bundle checksums: SHA-256 (FIPS 180-4) through swift-crypto (BoringSSL on Linux,
/// CryptoKit on Apple platforms). Not on any request path.
public enum Checksum {
  /// The SHA-256 digest of `bytes` as 32 bytes.
  public static func sha256<Bytes: Collection>(_ bytes: Bytes) -> [UInt8] where Bytes.Element == UInt8 {
    var hasher = SHA256()
    if bytes.withContiguousStorageIfAvailable({ hasher.update(bufferPointer: UnsafeRawBufferPointer($0)) }) == nil {
      hasher.update(data: Array(bytes))
    }
    return Array(hasher.finalize())
  }

  /// The SHA-256 digest of `bytes` as 64 lowercase hex characters.
  public static func sha256Hex<Bytes: Collection>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
    let digits = Array("0123456789abcdef".utf8)
    var text: [UInt8] = []
    text.reserveCapacity(64)
    for byte in sha256(bytes) {
      text.append(digits[Int(byte >> 4)])
      text.append(digits[Int(byte & 0xF)])
    }
    return String(decoding: text, as: UTF8.self)
  }
}
