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

  /// Floats as base64 of their little-endian IEEE 754 bits, quoted (exact, 4 bytes a value).
  mutating func base64(_ values: [Float]) {
    let alphabet: StaticString = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    let table = alphabet.utf8Start
    byte(UInt8(ascii: "\""))
    values.withUnsafeBytes { raw in
      // Little-endian machines only (x86-64, arm64): the bytes are the bits as stored.
      let bytes = raw.bindMemory(to: UInt8.self)
      var i = 0
      let out = reserve((bytes.count + 2) / 3 * 4)
      var o = 0
      while i + 3 <= bytes.count {
        let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
        out[o] = table[Int(n >> 18)]
        out[o + 1] = table[Int(n >> 12 & 63)]
        out[o + 2] = table[Int(n >> 6 & 63)]
        out[o + 3] = table[Int(n & 63)]
        i += 3
        o += 4
      }
      let rest = bytes.count - i
      if rest > 0 {
        let n = UInt32(bytes[i]) << 16 | (rest == 2 ? UInt32(bytes[i + 1]) << 8 : 0)
        out[o] = table[Int(n >> 18)]
        out[o + 1] = table[Int(n >> 12 & 63)]
        out[o + 2] = rest == 2 ? table[Int(n >> 6 & 63)] : UInt8(ascii: "=")
        out[o + 3] = UInt8(ascii: "=")
      }
    }
    byte(UInt8(ascii: "\""))
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
    guard let (digits, places) = Self.shortestDecimal(value) else {
      utf8(value.description)
      return
    }
    if value < 0 { byte(UInt8(ascii: "-")) }
    // `digits` has at most 17 digits; those before the last `places` are the whole part (0 when
    // there are none), the rest the fraction, zero-padded on the left.
    var count = 1
    var rest = digits / 10
    while rest != 0 { count += 1; rest /= 10 }
    let wholeCount = max(count - places, 0)
    let wholeWidth = max(wholeCount, 1)  // "0" when there is no whole part
    let out = reserve(wholeWidth + 1 + places)
    var at = wholeWidth + 1 + places  // one past the last digit
    rest = digits
    for _ in 0..<places {
      at -= 1
      out[at] = UInt8(ascii: "0") + UInt8(rest % 10)
      rest /= 10
    }
    at -= 1
    out[at] = UInt8(ascii: ".")
    if wholeCount == 0 {
      out[0] = UInt8(ascii: "0")
    } else {
      for _ in 0..<wholeCount {
        at -= 1
        out[at] = UInt8(ascii: "0") + UInt8(rest % 10)
        rest /= 10
      }
    }
  }

  /// 10^0 … 10^19 (a literal, so that it is static data read without a lazy initialisation check).
  private static let tens: [UInt64] = [
    1, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000, 1_000_000_000, 10_000_000_000,
    100_000_000_000, 1_000_000_000_000, 10_000_000_000_000, 100_000_000_000_000, 1_000_000_000_000_000,
    10_000_000_000_000_000, 100_000_000_000_000_000, 1_000_000_000_000_000_000, 10_000_000_000_000_000_000,
  ]

  /// 10^j for 0 ≤ j ≤ 21, exact.
  @inline(__always) private static func power(_ j: Int) -> UInt128 {
    j < 20 ? UInt128(tens[j]) : UInt128(tens[j - 2]) &* 100
  }

  /// For a non-integral `value` with 1e-4 ≤ |value| < 1e15: the fewest decimal places `j` and
  /// the digits `m` (|value| ≈ m / 10^j) with which it reads back exactly, the closest such
  /// decimal when several have that many places; this is what Swift prints. Nil outside that
  /// range (the caller then prints it the slow way).
  ///
  /// Exact, in 128-bit integers: |value| = M / 2^k (M < 2^53, 1 ≤ k ≤ 66 in this range). The
  /// closest j-place decimal is m = round(M · 10^j / 2^k). It reads back as the value when it lies
  /// within half a unit in the last place of it: |m · 2^(k+1) − 2 · M · 10^j| < 10^j (or equal,
  /// with ties to even, when M is even); below a power of two the unit below is half as wide.
  /// Reading back only gets easier with more places, so the fewest is bisected for; 17
  /// significant digits always read back.
  static func shortestDecimal(_ value: Double) -> (digits: UInt64, places: Int)? {
    let x = abs(value)
    guard x >= 1e-4, x < 1e15, x != x.rounded(.towardZero) else { return nil }
    let significand = UInt128(x.significandBitPattern | (1 << 52))
    let k = 1075 - Int(x.exponentBitPattern)  // x = significand / 2^k
    guard k >= 1, k <= 66 else { return nil }
    let atBoundary = x.significandBitPattern == 0
    let even = significand & 1 == 0
    func digits(_ j: Int) -> UInt128? {
      let unit = power(j)
      let exact = (significand &* unit) << 1  // 2 · M · 10^j
      // Whether the j-place decimal m reads back as the value.
      func readsBack(_ m: UInt128) -> Bool {
        let decimal = m << (k + 1)
        if decimal >= exact {
          let above = decimal - exact
          return above < unit || (above == unit && even)
        }
        // Below a power of two the unit below is half as wide.
        let below = atBoundary ? (exact - decimal) << 1 : exact - decimal
        return below < unit || (below == unit && even)
      }
      var m = (exact &+ (1 << k)) >> (k + 1)
      // A tie between two decimals, both as close: Swift prints the even one.
      if m & 1 == 1, exact & ((1 << (k + 1)) - 1) == 1 << k { m -= 1 }
      if readsBack(m) { return m }
      // Below a power of two the interval is lopsided: the next decimal up may read back.
      if atBoundary, readsBack(m + 1) { return m + 1 }
      return nil
    }
    // The places that give 17 significant digits, which always read back: from an estimate of
    // the decimal exponent, corrected by the table.
    var high = max(1, min(20, 16 - Int((Double(x.exponent) * 0.301_029_995_663_981_2).rounded(.down))))
    while high > 1, x * Double(tens[high - 1]) >= 1e16 { high -= 1 }
    while high < 20, x * Double(tens[high]) < 1e16 { high += 1 }
    // Most doubles a decision makes (propensities, contributions) need 16 or 17 digits: those
    // two are tried first, and only a value that reads back with 15 is bisected for fewer.
    guard high > 1, let sixteen = digits(high - 1) else { return finish(digits(high), places: high) }
    guard high > 2, digits(high - 2) != nil else { return finish(sixteen, places: high - 1) }
    var low = 1
    high -= 2
    while low < high {
      let middle = (low + high) / 2
      if digits(middle) != nil { high = middle } else { low = middle + 1 }
    }
    return finish(digits(low), places: low)
  }

  /// The digits as 64 bits (17 digits at most fit), or nil.
  private static func finish(_ m: UInt128?, places: Int) -> (digits: UInt64, places: Int)? {
    guard let m, m < UInt128(UInt64.max) else { return nil }
    return (UInt64(m), places)
  }
}
