import Foundation

/// Appending JSON pieces to a line of bytes, for the interaction log: no intermediate strings
/// for integers, and ids written without a copy when (as usual) they need no escaping.
extension Array where Element == UInt8 {
  /// Text written as is (keys, punctuation).
  mutating func appendRaw(_ text: StaticString) {
    append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
  }

  /// Text known to need no escaping (a channel name, an enum's raw value).
  mutating func appendRaw(_ text: String) {
    appendUTF8(text)
  }

  private mutating func appendUTF8(_ text: String) {
    if text.utf8.withContiguousStorageIfAvailable({ append(contentsOf: $0) }) == nil {
      var copy = text
      copy.withUTF8 { append(contentsOf: $0) }
    }
  }

  /// A JSON string: `text` quoted and escaped; `suffix`, if given, follows `/`.
  mutating func appendJSONString(_ text: String, _ suffix: String? = nil) {
    append(UInt8(ascii: "\""))
    appendEscaped(text)
    if let suffix {
      append(UInt8(ascii: "/"))
      appendEscaped(suffix)
    }
    append(UInt8(ascii: "\""))
  }

  private mutating func appendEscaped(_ text: String) {
    if !text.utf8.contains(where: { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C }) {
      appendUTF8(text)
      return
    }
    let hex = Array("0123456789abcdef".utf8)
    for byte in text.utf8 {
      switch byte {
      case 0x22: append(contentsOf: [0x5C, 0x22])
      case 0x5C: append(contentsOf: [0x5C, 0x5C])
      case 0x0A: append(contentsOf: [0x5C, UInt8(ascii: "n")])
      case 0x0D: append(contentsOf: [0x5C, UInt8(ascii: "r")])
      case 0x09: append(contentsOf: [0x5C, UInt8(ascii: "t")])
      case ..<0x20: append(contentsOf: [0x5C, UInt8(ascii: "u"), 0x30, 0x30, hex[Int(byte >> 4)], hex[Int(byte & 15)]])
      default: append(byte)
      }
    }
  }

  mutating func appendJSONInteger(_ value: UInt64) {
    guard value != 0 else { append(UInt8(ascii: "0")); return }
    var buffer: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes: room for 20 digits
    var rest = value
    Swift.withUnsafeMutableBytes(of: &buffer) { raw in
      var at = raw.count
      while rest != 0 {
        at -= 1
        raw[at] = UInt8(ascii: "0") + UInt8(rest % 10)
        rest /= 10
      }
      append(contentsOf: raw[at...])
    }
  }

  mutating func appendJSONInteger(_ value: Int64) {
    if value < 0 { append(UInt8(ascii: "-")) }
    appendJSONInteger(value.magnitude)
  }

  /// A number as Swift prints it (shortest form that reads back exactly); null when not finite,
  /// which JSON cannot say.
  mutating func appendJSONNumber(_ value: Double) {
    guard value.isFinite else { appendRaw("null"); return }
    if value == value.rounded(), abs(value) < 1e15 {
      appendJSONInteger(Int64(value))
      appendRaw(".0")
      return
    }
    appendUTF8(value.description)
  }
}
