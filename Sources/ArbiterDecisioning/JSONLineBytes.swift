import Foundation

/// Writes one JSON line of the interaction log into memory sized beforehand (see ``bound``):
/// bytes stored through a pointer, integers without an intermediate string, ids copied as is
/// when (as usual) they need no escaping. Writing past the capacity stops the process (a wrong
/// bound is a bug, never a silent overrun). The HTTP door writes its doubles with it too.
package struct JSONLineWriter {
  private let base: UnsafeMutablePointer<UInt8>
  private let capacity: Int
  private(set) var count = 0

  /// A writer over `buffer`.
  package init(_ buffer: UnsafeMutableBufferPointer<UInt8>) {
    base = buffer.baseAddress!
    capacity = buffer.count
  }

  /// What has been written.
  package var bytes: UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(start: base, count: count) }

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
    // Native strings: one scan of their contiguous bytes, then one copy. Otherwise (something
    // to escape, or no contiguous UTF-8) byte by byte.
    let copied = text.utf8.withContiguousStorageIfAvailable { source in
      for byte in source where byte < 0x20 || byte == 0x22 || byte == 0x5C { return false }
      bytes(source)
      return true
    }
    if copied == true { return }
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

  /// An unsigned integer's digits.
  package mutating func integer(_ value: UInt64) {
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

  /// A key (with its punctuation) and a number: `,"key":1.5`.
  mutating func member(_ key: StaticString, _ value: Double) {
    raw(key)
    number(value)
  }

  /// A number in the shortest form that reads back exactly (as Swift prints it); null when not
  /// finite, which JSON cannot say.
  package mutating func number(_ value: Double) {
    guard value.isFinite else { raw("null"); return }
    if value == value.rounded(), abs(value) < 1e15 {
      integer(Int64(value))
      raw(".0")
      return
    }
    if let (digits, places) = Self.shortestDecimal(value) {
      if value < 0 { byte(UInt8(ascii: "-")) }
      let whole = digits / Self.powersOfTen[places].integer
      integer(whole)
      byte(UInt8(ascii: "."))
      var fraction = digits - whole * Self.powersOfTen[places].integer
      let out = reserve(places)
      for i in stride(from: places - 1, through: 0, by: -1) {
        out[i] = UInt8(ascii: "0") + UInt8(fraction % 10)
        fraction /= 10
      }
      return
    }
    utf8(value.description)
  }

  /// 10^0 … 10^19, as exact doubles and as integers.
  static let powersOfTen: [(double: Double, integer: UInt64)] = (0...19).map { k in
    ((0..<k).reduce(1.0) { r, _ in r * 10 }, (0..<k).reduce(UInt64(1)) { r, _ in r * 10 })
  }

  /// For a non-integral `value` with 1e-4 ≤ |value| < 1e15: the fewest decimal places `j` (and
  /// the digits `m`, |value| ≈ m / 10^j) with which it reads back exactly, or nil (then the
  /// caller prints it the slow way). Exact by construction: m and 10^j are exact doubles (m <
  /// 2^53, j ≤ 22) and IEEE division rounds correctly, so m / 10^j is the double a correct parser
  /// reads from those digits; the check compares that with the value itself.
  static func shortestDecimal(_ value: Double) -> (digits: UInt64, places: Int)? {
    let x = abs(value)
    guard x >= 1e-4, x < 1e15 else { return nil }
    func digits(_ j: Int) -> UInt64? {
      let scaled = x * powersOfTen[j].double
      guard scaled < 9_007_199_254_740_991 else { return nil }  // 2^53 - 1
      // To the nearest, halves up, by conversion (not a call to round): from 2^52 on a double is
      // already whole; below it, adding 0.5 is exact.
      let m = scaled >= 4_503_599_627_370_496 ? UInt64(scaled) : UInt64(scaled + 0.5)
      return Double(m) / powersOfTen[j].double == x ? m : nil
    }
    // The most places whose digits stay below 2^53; if even those do not read back, give up.
    var high = 19
    while high > 1, x * powersOfTen[high].double >= 9_007_199_254_740_992 { high -= 1 }
    guard digits(high) != nil else { return nil }
    // Places that read back exactly only grow with j: bisect for the fewest, then confirm.
    var low = 1
    while low < high {
      let middle = (low + high) / 2
      if digits(middle) != nil { high = middle } else { low = middle + 1 }
    }
    guard let m = digits(low) else { return nil }
    return (m, low)
  }
}
