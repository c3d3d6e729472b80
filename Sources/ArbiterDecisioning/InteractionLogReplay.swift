import ArbiterCore
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// Reads back the newest lines of an interaction log file, so that a restarted server knows
/// the decisions and outcomes its predecessor made: outcomes for them are accepted, and the
/// contact policy still sees the customers' recent offers.
///
/// Only the tail is read: the newest `decisionLimit` decision lines (what the decision ring
/// holds) and the outcome and other lines after the first of them. Lines that are not valid
/// JSON of the log's shape (a line cut short by a crash, a line edited by hand) are counted and
/// skipped.
struct InteractionLogReplay {
  /// A replayed line.
  enum Line {
    case decision(id: String, customerId: UInt64, channel: Channel, timestampMillis: Int64, offerIds: [String])
    case outcome(
      decisionId: String, offerId: String, outcome: OutcomeKind, timestampMillis: Int64, declineReason: String)
    /// A shadow decision or a type this version does not replay.
    case other
  }

  /// The lines, oldest first.
  var lines: [Line] = []
  /// Lines that could not be read.
  var malformed = 0
  /// The file does not end with a newline (its last line was cut short).
  var endsInsideLine = false

  /// Reads the tail of the log at `path` (an empty or missing file gives nothing).
  init(path: String, decisionLimit: Int) throws(ArbiterError) {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else {
      if errno == ENOENT { return }
      throw ArbiterError(
        .failedPrecondition, "cannot read interaction log '\(path)': \(String(cString: strerror(errno)))")
    }
    defer { close(fd) }
    var info = stat()
    guard fstat(fd, &info) == 0 else {
      throw ArbiterError(.failedPrecondition, "cannot stat interaction log '\(path)'")
    }
    let length = Int(info.st_size)
    guard length > 0 else { return }
    guard let region = mmap(nil, length, PROT_READ, MAP_PRIVATE, fd, 0), region != MAP_FAILED else {
      throw ArbiterError(
        .failedPrecondition, "cannot map interaction log '\(path)': \(String(cString: strerror(errno)))")
    }
    defer { munmap(region, length) }
    let bytes = UnsafeBufferPointer(start: region.assumingMemoryBound(to: UInt8.self), count: length)
    endsInsideLine = bytes[length - 1] != 0x0A
    // The end of the last complete line, and the start of the oldest line to replay.
    var end = length
    while end > 0, bytes[end - 1] != 0x0A { end -= 1 }
    if endsInsideLine && end < length { malformed += 1 }
    let start = Self.tailStart(bytes, end: end, decisions: max(1, decisionLimit))
    madvise(region + start, end - start, MADV_SEQUENTIAL)
    var lineStart = start
    while lineStart < end {
      var lineEnd = lineStart
      while bytes[lineEnd] != 0x0A { lineEnd += 1 }
      if lineEnd > lineStart {
        if let line = LogLineParser.parse(UnsafeBufferPointer(rebasing: bytes[lineStart..<lineEnd])) {
          lines.append(line)
        } else {
          malformed += 1
        }
      }
      lineStart = lineEnd + 1
    }
  }

  /// The start of the line `decisions` decision lines back from `end` (or 0).
  static func tailStart(_ bytes: UnsafeBufferPointer<UInt8>, end: Int, decisions limit: Int) -> Int {
    let marker = Array("{\"type\":\"decision\"".utf8)
    var count = 0
    var lineEnd = end
    while lineEnd > 0 {
      // The previous line runs from after the newline before it to lineEnd - 1 (its newline).
      var lineStart = lineEnd - 1
      while lineStart > 0, bytes[lineStart - 1] != 0x0A { lineStart -= 1 }
      if lineEnd - lineStart > marker.count, bytes[lineStart..<(lineStart + marker.count)].elementsEqual(marker) {
        count += 1
        if count == limit { return lineStart }
      }
      lineEnd = lineStart
    }
    return 0
  }
}

/// A small JSON reader for the log's own lines: one object per line, of which it takes the
/// fields a replay needs and skips the rest (in any order). Returns nil for anything that is
/// not a well-formed object of the expected shape.
struct LogLineParser {
  private let bytes: UnsafeBufferPointer<UInt8>
  private var at = 0

  private struct Malformed: Error {}

  private static let channels: [String: Channel] = Dictionary(
    uniqueKeysWithValues: Channel.allCases.map { ($0.name, $0) })

  private init(_ bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

  static func parse(_ line: UnsafeBufferPointer<UInt8>) -> InteractionLogReplay.Line? {
    var parser = LogLineParser(line)
    return try? parser.line()
  }

  private mutating func line() throws(Malformed) -> InteractionLogReplay.Line {
    var type: String?, decisionId: String?, customerId: UInt64?, channel: String?, ts: Int64?
    var offerIds: [String]?, offerId: String?, outcome: String?, declineReason = ""
    try forEachMember { key, parser throws(Malformed) in
      if parser.matches(key, "type") {
        type = try parser.string()
      } else if parser.matches(key, "decision_id") {
        decisionId = try parser.string()
      } else if parser.matches(key, "customer_id") {
        let (negative, magnitude) = try parser.integer()
        guard !negative else { throw Malformed() }
        customerId = magnitude
      } else if parser.matches(key, "channel") {
        channel = try parser.string()
      } else if parser.matches(key, "ts") {
        let (negative, magnitude) = try parser.integer()
        guard magnitude <= UInt64(Int64.max) else { throw Malformed() }
        ts = negative ? -Int64(magnitude) : Int64(magnitude)
      } else if parser.matches(key, "offer_id") {
        offerId = try parser.string()
      } else if parser.matches(key, "outcome") {
        outcome = try parser.string()
      } else if parser.matches(key, "decline_reason") {
        declineReason = try parser.string()
      } else if parser.matches(key, "offers") {
        offerIds = try parser.offerIdsOfArray()
      } else {
        try parser.skipValue(depth: 1)
      }
    }
    skipSpace()
    guard at == bytes.count else { throw Malformed() }
    switch type {
    case "decision":
      guard let decisionId, let customerId, let name = channel, let channel = Self.channels[name], let ts, let offerIds
      else { throw Malformed() }
      return .decision(
        id: decisionId, customerId: customerId, channel: channel, timestampMillis: ts, offerIds: offerIds)
    case "outcome":
      guard let decisionId, let offerId, let name = outcome, let kind = OutcomeKind(rawValue: name), let ts else {
        throw Malformed()
      }
      return .outcome(
        decisionId: decisionId, offerId: offerId, outcome: kind, timestampMillis: ts, declineReason: declineReason)
    case .some:
      return .other
    case nil:
      throw Malformed()
    }
  }

  /// `[{"offer_id": ..., ...}, ...]`: the offer ids in order.
  private mutating func offerIdsOfArray() throws(Malformed) -> [String] {
    var ids: [String] = []
    try forEachElement { parser throws(Malformed) in
      var id: String?
      try parser.forEachMember { key, parser throws(Malformed) in
        if parser.matches(key, "offer_id") { id = try parser.string() } else { try parser.skipValue(depth: 3) }
      }
      guard let id else { throw Malformed() }
      ids.append(id)
    }
    return ids
  }

  /// Reads an object, handing each member's key (raw bytes) to `member`, which reads its value.
  private mutating func forEachMember(
    _ member: (Range<Int>, inout LogLineParser) throws(Malformed) -> Void
  ) throws(Malformed) {
    try expect(0x7B)
    skipSpace()
    if peek() == 0x7D { at += 1; return }
    while true {
      let key = try rawString()
      try expect(0x3A)
      try member(key, &self)
      skipSpace()
      if peek() == 0x7D { at += 1; return }
      try expect(0x2C)
    }
  }

  /// Reads an array, letting `element` read each element.
  private mutating func forEachElement(_ element: (inout LogLineParser) throws(Malformed) -> Void) throws(Malformed) {
    try expect(0x5B)
    skipSpace()
    if peek() == 0x5D { at += 1; return }
    while true {
      try element(&self)
      skipSpace()
      if peek() == 0x5D { at += 1; return }
      try expect(0x2C)
    }
  }

  private func peek() -> UInt8? { at < bytes.count ? bytes[at] : nil }

  private mutating func skipSpace() {
    while at < bytes.count, bytes[at] == 0x20 || bytes[at] == 0x09 || bytes[at] == 0x0D { at += 1 }
  }

  private mutating func expect(_ byte: UInt8) throws(Malformed) {
    skipSpace()
    guard peek() == byte else { throw Malformed() }
    at += 1
  }

  /// Whether a string's raw bytes (as ``rawString()`` found them) are `text`.
  private func matches(_ raw: Range<Int>, _ text: StaticString) -> Bool {
    raw.count == text.utf8CodeUnitCount && memcmp(bytes.baseAddress! + raw.lowerBound, text.utf8Start, raw.count) == 0
  }

  /// Skips a JSON string (checking its escapes' shape); returns the bytes between the quotes.
  private mutating func rawString() throws(Malformed) -> Range<Int> {
    try expect(0x22)
    let start = at
    while at < bytes.count, bytes[at] != 0x22 {
      let byte = bytes[at]
      guard byte >= 0x20 else { throw Malformed() }
      at += byte == 0x5C ? 2 : 1
    }
    guard at < bytes.count else { throw Malformed() }
    at += 1
    return start..<(at - 1)
  }

  /// A JSON string, unescaped.
  private mutating func string() throws(Malformed) -> String {
    try expect(0x22)
    let start = at
    while at < bytes.count, bytes[at] != 0x22, bytes[at] != 0x5C {
      guard bytes[at] >= 0x20 else { throw Malformed() }
      at += 1
    }
    guard at < bytes.count else { throw Malformed() }
    if bytes[at] == 0x22 {
      defer { at += 1 }
      guard let text = String(validating: UnsafeBufferPointer(rebasing: bytes[start..<at]), as: UTF8.self) else {
        throw Malformed()
      }
      return text
    }
    var text = Array(bytes[start..<at])
    while true {
      guard at < bytes.count else { throw Malformed() }
      let byte = bytes[at]
      at += 1
      switch byte {
      case 0x22:
        guard let decoded = String(validating: text, as: UTF8.self) else { throw Malformed() }
        return decoded
      case 0x5C:
        guard at < bytes.count else { throw Malformed() }
        let escape = bytes[at]
        at += 1
        switch escape {
        case 0x22, 0x5C, 0x2F: text.append(escape)
        case UInt8(ascii: "b"): text.append(0x08)
        case UInt8(ascii: "f"): text.append(0x0C)
        case UInt8(ascii: "n"): text.append(0x0A)
        case UInt8(ascii: "r"): text.append(0x0D)
        case UInt8(ascii: "t"): text.append(0x09)
        case UInt8(ascii: "u"):
          var scalar = try hex4()
          if (0xD800..<0xDC00).contains(scalar) {
            guard at + 1 < bytes.count, bytes[at] == 0x5C, bytes[at + 1] == UInt8(ascii: "u") else { throw Malformed() }
            at += 2
            let low = try hex4()
            guard (0xDC00..<0xE000).contains(low) else { throw Malformed() }
            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
          }
          guard let unicode = Unicode.Scalar(scalar) else { throw Malformed() }
          text.append(contentsOf: Array(String(Character(unicode)).utf8))
        default: throw Malformed()
        }
      default:
        guard byte >= 0x20 else { throw Malformed() }
        text.append(byte)
      }
    }
  }

  private mutating func hex4() throws(Malformed) -> UInt32 {
    guard at + 4 <= bytes.count else { throw Malformed() }
    var value: UInt32 = 0
    for _ in 0..<4 {
      let byte = bytes[at]
      at += 1
      let digit: UInt8
      switch byte {
      case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
      case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
      case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
      default: throw Malformed()
      }
      value = value << 4 | UInt32(digit)
    }
    return value
  }

  /// A JSON integer (no fraction or exponent): its sign and magnitude.
  private mutating func integer() throws(Malformed) -> (negative: Bool, magnitude: UInt64) {
    skipSpace()
    let negative = peek() == UInt8(ascii: "-")
    if negative { at += 1 }
    let start = at
    var value: UInt64 = 0
    while let byte = peek(), byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") {
      let (times, overflow1) = value.multipliedReportingOverflow(by: 10)
      let (sum, overflow2) = times.addingReportingOverflow(UInt64(byte - UInt8(ascii: "0")))
      guard !overflow1, !overflow2 else { throw Malformed() }
      value = sum
      at += 1
    }
    guard at > start else { throw Malformed() }
    if let byte = peek(), byte == UInt8(ascii: ".") || byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E") {
      throw Malformed()
    }
    return (negative, value)
  }

  /// Skips any JSON value (nesting up to a bound).
  private mutating func skipValue(depth: Int) throws(Malformed) {
    guard depth < 32 else { throw Malformed() }
    skipSpace()
    guard let byte = peek() else { throw Malformed() }
    switch byte {
    case 0x22: _ = try rawString()
    case 0x7B: try forEachMember { _, parser throws(Malformed) in try parser.skipValue(depth: depth + 1) }
    case 0x5B: try forEachElement { parser throws(Malformed) in try parser.skipValue(depth: depth + 1) }
    case UInt8(ascii: "t"): try word("true")
    case UInt8(ascii: "f"): try word("false")
    case UInt8(ascii: "n"): try word("null")
    default: try number()
    }
  }

  private mutating func word(_ text: StaticString) throws(Malformed) {
    let count = text.utf8CodeUnitCount
    guard at + count <= bytes.count else { throw Malformed() }
    for i in 0..<count where bytes[at + i] != text.utf8Start[i] { throw Malformed() }
    at += count
  }

  /// A JSON number: `-? digits (. digits)? ([eE] [+-]? digits)?`.
  private mutating func number() throws(Malformed) {
    if peek() == UInt8(ascii: "-") { at += 1 }
    try digits()
    if peek() == UInt8(ascii: ".") { at += 1; try digits() }
    if peek() == UInt8(ascii: "e") || peek() == UInt8(ascii: "E") {
      at += 1
      if peek() == UInt8(ascii: "+") || peek() == UInt8(ascii: "-") { at += 1 }
      try digits()
    }
  }

  private mutating func digits() throws(Malformed) {
    let start = at
    while let byte = peek(), byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") { at += 1 }
    guard at > start else { throw Malformed() }
  }
}
