import Foundation

/// Writes one JSON line of the interaction log into memory sized beforehand (see ``bound``):
/// bytes stored through a pointer, integers without an intermediate string, ids copied as is
/// when (as usual) they need no escaping. Writing past the capacity stops the process (a wrong
/// bound is a bug, never a silent overrun).
struct JSONLineWriter {
  private let base: UnsafeMutablePointer<UInt8>
  private let capacity: Int
  private(set) var count = 0

  init(_ buffer: UnsafeMutableBufferPointer<UInt8>) {
    base = buffer.baseAddress!
    capacity = buffer.count
  }

  /// What has been written.
  var bytes: UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(start: base, count: count) }

  /// An upper bound of a line's size: `fixed` bytes of keys and punctuation, `numbers` numbers,
  /// and strings whose UTF-8 lengths add up to `textBytes` (each byte may escape to six).
  static func bound(fixed: Int, numbers: Int, textBytes: Int) -> Int { fixed + 32 * numbers + 6 * textBytes }

  /// Runs `body` with a writer over stack memory of `bound` bytes.
  static func withLine<R>(bound: Int, _ body: (inout JSONLineWriter) -> R) -> R {
    withUnsafeTemporaryAllocation(of: UInt8.self, capacity: bound) { buffer in
      var writer = JSONLineWriter(buffer)
      return body(&writer)
    }
  }

  @inline(__always) private mutating func reserve(_ n: Int) -> UnsafeMutablePointer<UInt8> {
    precondition(count + n <= capacity, "interaction log line longer than its bound \(capacity)")
    defer { count += n }
    return base + count
  }

  @inline(__always) private mutating func byte(_ value: UInt8) { reserve(1).pointee = value }

  private mutating func bytes(_ source: UnsafeBufferPointer<UInt8>) {
    guard !source.isEmpty else { return }
    reserve(source.count).update(from: source.baseAddress!, count: source.count)
  }

  private mutating func utf8(_ text: String) {
    if text.utf8.withContiguousStorageIfAvailable({ bytes($0) }) == nil {
      var copy = text
      copy.withUTF8 { bytes($0) }
    }
  }

  /// Keys and punctuation.
  mutating func raw(_ text: StaticString) {
    bytes(UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
  }

  /// Text known to need no escaping (a channel name, an enum's raw value).
  mutating func raw(_ text: String) { utf8(text) }

  /// A JSON string: `text` quoted and escaped; `suffix`, if given, follows `/`.
  mutating func string(_ text: String, _ suffix: String? = nil) {
    byte(UInt8(ascii: "\""))
    escaped(text)
    if let suffix {
      byte(UInt8(ascii: "/"))
      escaped(suffix)
    }
    byte(UInt8(ascii: "\""))
  }

  private mutating func escaped(_ text: String) {
    if !text.utf8.contains(where: { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C }) {
      utf8(text)
      return
    }
    let hex: StaticString = "0123456789abcdef"
    for value in text.utf8 {
      switch value {
      case 0x22: byte(0x5C); byte(0x22)
      case 0x5C: byte(0x5C); byte(0x5C)
      case 0x0A: byte(0x5C); byte(UInt8(ascii: "n"))
      case 0x0D: byte(0x5C); byte(UInt8(ascii: "r"))
      case 0x09: byte(0x5C); byte(UInt8(ascii: "t"))
      case ..<0x20:
        raw("\\u00")
        byte(hex.utf8Start[Int(value >> 4)])
        byte(hex.utf8Start[Int(value & 15)])
      default: byte(value)
      }
    }
  }

  mutating func integer(_ value: UInt64) {
    var digits = 1
    var rest = value / 10
    while rest != 0 { digits += 1; rest /= 10 }
    let out = reserve(digits)
    rest = value
    for i in stride(from: digits - 1, through: 0, by: -1) {
      out[i] = UInt8(ascii: "0") + UInt8(rest % 10)
      rest /= 10
    }
  }

  mutating func integer(_ value: Int64) {
    if value < 0 { byte(UInt8(ascii: "-")) }
    integer(value.magnitude)
  }

  /// A number as Swift prints it (the shortest form that reads back exactly); null when not
  /// finite, which JSON cannot say.
  mutating func number(_ value: Double) {
    guard value.isFinite else { raw("null"); return }
    if value == value.rounded(), abs(value) < 1e15 {
      integer(Int64(value))
      raw(".0")
      return
    }
    utf8(value.description)
  }
}
