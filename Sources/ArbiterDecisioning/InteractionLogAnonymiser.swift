import ArbiterCore

/// Makes a customer's lines of the interaction log anonymous, for erasure: the customer id
/// becomes 0, and the visitor id, decline reasons (free text the customer gave) and the features
/// the models saw (the customer's profile at the time) are dropped.
/// What the line says of the decision (offers, scores, probabilities, outcomes) stays, so that
/// learning and off-policy evaluation keep their data without anyone in it.
struct InteractionLogAnonymiser {
  /// The bytes that name the customer in a line: `"customer_id":<id>`.
  let needle: [UInt8]

  /// An anonymiser for `customerId`'s lines.
  init(customerId: UInt64) { needle = Array("\"customer_id\":\(customerId)".utf8) }

  /// The anonymous form of `line` (one JSON object, without its newline), or nil when the line
  /// is not the customer's.
  func anonymised(_ line: ArraySlice<UInt8>) -> [UInt8]? {
    guard let at = Self.find(needle, in: line) else { return nil }
    let end = at + needle.count
    // `"customer_id":12` must not match customer 123.
    guard end < line.endIndex, line[end] == UInt8(ascii: ",") || line[end] == UInt8(ascii: "}") else { return nil }
    var out = Array(line[line.startIndex..<at])
    out += Array("\"customer_id\":0".utf8)
    out += line[end...]
    for key in ["visitor_id", "decline_reason", "features"] { Self.dropStringMember(key, from: &out) }
    return out
  }

  /// Removes `,"key":"…"` (a string member, escapes honoured) from `line`, if it is there.
  static func dropStringMember(_ key: String, from line: inout [UInt8]) {
    let prefix = Array(",\"\(key)\":\"".utf8)
    guard let start = find(prefix, in: line[...]) else { return }
    var i = start + prefix.count
    while i < line.count {
      if line[i] == UInt8(ascii: "\\") {
        i += 2
        continue
      }
      if line[i] == UInt8(ascii: "\"") { break }
      i += 1
    }
    line.removeSubrange(start..<min(line.count, i + 1))
  }

  /// The index of the first occurrence of `needle` in `haystack`.
  static func find(_ needle: [UInt8], in haystack: ArraySlice<UInt8>) -> Int? {
    guard let first = needle.first, haystack.count >= needle.count else { return nil }
    var i = haystack.startIndex
    let last = haystack.endIndex - needle.count
    while i <= last {
      if haystack[i] == first, haystack[i..<(i + needle.count)].elementsEqual(needle) { return i }
      i += 1
    }
    return nil
  }

  /// Anonymises the customer's lines in `text` (whole lines ending in newlines); returns the
  /// text and how many lines changed.
  func anonymised(text: [UInt8]) -> (text: [UInt8], changed: Int) {
    var out: [UInt8] = []
    out.reserveCapacity(text.count)
    var changed = 0
    var start = 0
    while start < text.count {
      let newline = text[start...].firstIndex(of: UInt8(ascii: "\n")) ?? text.count
      let line = text[start..<newline]
      if let replaced = anonymised(line) {
        out += replaced
        changed += 1
      } else {
        out += line
      }
      if newline < text.count { out.append(UInt8(ascii: "\n")) }
      start = newline + 1
    }
    return (out, changed)
  }
}
