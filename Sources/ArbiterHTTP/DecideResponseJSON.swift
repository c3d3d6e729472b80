import ArbiterAPI
import ArbiterCore
import ArbiterDecisioning
import ArbiterService
import SwiftProtobuf

/// A decision written straight into protobuf's canonical JSON of `arbiter.v1.DecideResponse`,
/// byte for byte what swift-protobuf's JSON encoder writes for `decision.proto`: fields in number
/// order, defaults left out (-0.0 is not one), doubles as `debugDescription` writes them, 64-bit
/// integers quoted, strings escaped as it escapes them. The message is not built first: on the
/// HTTP door's hot path the generic encoder cost more than the decision (BENCHMARKS.md).
/// `DecideResponseJSONTests` checks the bytes against swift-protobuf's over many decisions.
enum DecideResponseJSON {
  /// The decision's JSON.
  static func encode(_ decision: Decision) -> [UInt8] {
    var out = CanonicalJSONOut()
    out.bytes.reserveCapacity(1_024 + 900 * decision.offers.count + 200 * decision.suppressed.count)
    out.open()
    out.string(1, "decisionId", decision.decisionId)
    out.string(2, "requestId", decision.requestId)
    out.quoted(3, "customerId", decision.customerId)
    if let channel = channelNames[decision.channel.ordinal] { out.raw(4, "channel", channel) }
    out.message(5, "versions") { out in
      out.string(1, "bundleName", decision.versions.bundleName)
      out.string(2, "bundleVersion", decision.versions.bundleVersion)
      out.string(3, "catalogueVersion", decision.versions.catalogueVersion)
      out.string(4, "schemaHash", decision.versions.schemaHash)
    }
    out.list(6, "offers", decision.offers) { out, offer in offer.writeJSON(into: &out) }
    out.list(7, "suppressed", decision.suppressed) { out, suppression in
      out.open()
      out.string(1, "offerId", suppression.offerId)
      out.string(2, "code", suppression.code.rawValue)
      out.string(3, "detail", suppression.detail)
      out.double(4, "propensity", suppression.propensity ?? 0)
      out.double(5, "score", suppression.score ?? 0)
      out.close()
    }
    out.quoted(8, "decisionNanos", decision.nanos)
    out.list(9, "controls", decision.controls) { out, held in
      out.open()
      out.string(1, "offerId", held.offerId)
      out.double(2, "propensity", held.propensity)
      out.double(3, "score", held.priority)
      out.close()
    }
    out.string(10, "exploration", decision.exploration)
    if decision.fallback { out.raw(11, "fallback", Array("true".utf8)) }
    out.close()
    return out.bytes
  }

  /// Each channel's enum name in JSON, quoted, as swift-protobuf writes it (by channel ordinal).
  static let channelNames: [[UInt8]?] = Channel.allCases.map { channel in
    let text = (try? Arbiter_V1_DecideResponse.with { $0.channel = channel.proto }.jsonString()) ?? ""
    // {"channel":"CHANNEL_WEB"}
    guard let colon = text.firstIndex(of: ":") else { return nil }
    return Array(text[text.index(after: colon)..<text.index(before: text.endIndex)].utf8)
  }
}

extension RankedOffer {
  fileprivate func writeJSON(into out: inout CanonicalJSONOut) {
    out.open()
    out.string(1, "offerId", offerId)
    out.string(2, "name", name)
    out.integer(3, "offerIndex", UInt64(offerIndex))
    out.double(4, "propensity", propensity)
    out.double(5, "value", value)
    out.double(6, "score", score)
    out.message(7, "treatment") { out in
      out.string(1, "title", treatment.title)
      out.string(2, "message", treatment.message)
      out.string(3, "agentScript", treatment.agentScript)
    }
    out.list(8, "reasons", reasons) { out, reason in
      out.open()
      out.string(1, "code", reason.code)
      out.string(2, "feature", reason.feature)
      out.double(3, "contribution", reason.contribution)
      out.string(4, "phrase", reason.phrase)
      out.close()
    }
    out.integer(9, "rank", UInt64(rank))
    out.string(10, "product", product)
    out.double(11, "contextWeight", contextWeight)
    out.double(12, "lever", lever)
    out.double(13, "channelCost", channelCost)
    out.double(14, "shadowPrice", shadowPrice)
    out.double(15, "probability", probability)
    out.string(16, "category", category)
    out.close()
  }
}

/// The bytes of one JSON object being written: a comma before every field but the first of its
/// object, defaults (empty, zero) left out as proto3 does.
struct CanonicalJSONOut {
  var bytes: [UInt8] = []
  private var first = true

  mutating func open() {
    bytes.append(UInt8(ascii: "{"))
    first = true
  }

  mutating func close() {
    bytes.append(UInt8(ascii: "}"))
    first = false
  }

  private mutating func key(_ name: StaticString) {
    if !first { bytes.append(UInt8(ascii: ",")) }
    first = false
    bytes.append(UInt8(ascii: "\""))
    bytes.append(contentsOf: UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
    bytes.append(contentsOf: [UInt8(ascii: "\""), UInt8(ascii: ":")])
  }

  mutating func raw(_ number: Int, _ name: StaticString, _ value: [UInt8]) {
    key(name)
    bytes.append(contentsOf: value)
  }

  mutating func string(_ number: Int, _ name: StaticString, _ value: String) {
    guard !value.isEmpty else { return }
    key(name)
    bytes.append(UInt8(ascii: "\""))
    escape(value)
    bytes.append(UInt8(ascii: "\""))
  }

  /// A double; only +0 is the default (swift-protobuf writes -0.0).
  mutating func double(_ number: Int, _ name: StaticString, _ value: Double) {
    guard value.bitPattern != 0 else { return }
    key(name)
    if value.isNaN {
      bytes.append(contentsOf: "\"NaN\"".utf8)
    } else if !value.isFinite {
      bytes.append(contentsOf: (value < 0 ? "\"-Infinity\"" : "\"Infinity\"").utf8)
    } else if value == 0 {
      bytes.append(contentsOf: "-0.0".utf8)
    } else {
      // Swift's shortest digits (what `debugDescription` gives) without making a String
      withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 32) { scratch in
        var writer = JSONLineWriter(scratch)
        writer.number(value)
        bytes.append(contentsOf: writer.bytes)
      }
    }
  }

  mutating func integer(_ number: Int, _ name: StaticString, _ value: UInt64) {
    guard value != 0 else { return }
    key(name)
    digits(value)
  }

  /// A 64-bit integer: quoted, as canonical JSON writes them.
  mutating func quoted(_ number: Int, _ name: StaticString, _ value: UInt64) {
    guard value != 0 else { return }
    key(name)
    bytes.append(UInt8(ascii: "\""))
    digits(value)
    bytes.append(UInt8(ascii: "\""))
  }

  /// A set message field (written even when all its fields are defaults: `{}`).
  mutating func message(_ number: Int, _ name: StaticString, _ body: (inout CanonicalJSONOut) -> Void) {
    key(name)
    open()
    body(&self)
    close()
  }

  mutating func list<T>(
    _ number: Int, _ name: StaticString, _ items: [T], _ body: (inout CanonicalJSONOut, T) -> Void
  ) {
    guard !items.isEmpty else { return }
    key(name)
    bytes.append(UInt8(ascii: "["))
    for (i, item) in items.enumerated() {
      if i > 0 { bytes.append(UInt8(ascii: ",")) }
      body(&self, item)
    }
    bytes.append(UInt8(ascii: "]"))
  }

  /// An unsigned integer's digits, by the interaction log's writer (no String).
  private mutating func digits(_ value: UInt64) {
    withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { scratch in
      var writer = JSONLineWriter(scratch)
      writer.integer(value)
      bytes.append(contentsOf: writer.bytes)
    }
  }

  /// swift-protobuf's escaping: the two-character escapes, `\u00XX` for C0 and C1 controls and
  /// DEL, everything else as UTF-8. Byte by byte over the UTF-8 (a C1 control is `C2 80`…`C2 9F`
  /// there), so that a string with any non-ASCII character costs no allocation.
  private mutating func escape(_ text: String) {
    if text.utf8.withContiguousStorageIfAvailable({ escape(utf8: $0) }) == nil {
      var contiguous = text
      contiguous.makeContiguousUTF8()
      _ = contiguous.utf8.withContiguousStorageIfAvailable { escape(utf8: $0) }
    }
  }

  private mutating func escape(utf8 text: UnsafeBufferPointer<UInt8>) {
    var plain = true
    for byte in text where byte < 0x20 || byte == 0x22 || byte == 0x5C || byte == 0x7F || byte == 0xC2 {
      plain = false
      break
    }
    if plain {
      bytes.append(contentsOf: text)
      return
    }
    var previous: UInt8 = 0
    for byte in text {
      switch byte {
      case 8: bytes.append(contentsOf: [0x5C, UInt8(ascii: "b")])
      case 9: bytes.append(contentsOf: [0x5C, UInt8(ascii: "t")])
      case 10: bytes.append(contentsOf: [0x5C, UInt8(ascii: "n")])
      case 12: bytes.append(contentsOf: [0x5C, UInt8(ascii: "f")])
      case 13: bytes.append(contentsOf: [0x5C, UInt8(ascii: "r")])
      case 0x22: bytes.append(contentsOf: [0x5C, 0x22])
      case 0x5C: bytes.append(contentsOf: [0x5C, 0x5C])
      case 0..<0x20, 0x7F: unicodeEscape(byte)
      case 0x80...0x9F where previous == 0xC2:
        // U+0080…U+009F: the lead byte C2 was written as it came; its escape replaces both
        bytes.removeLast()
        unicodeEscape(byte)
      default: bytes.append(byte)
      }
      previous = byte
    }
  }

  /// `\u00XX` for a code point below 256.
  private mutating func unicodeEscape(_ value: UInt8) {
    let hex: StaticString = "0123456789ABCDEF"
    bytes.append(contentsOf: [0x5C, UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0")])
    bytes.append(hex.utf8Start[Int(value >> 4)])
    bytes.append(hex.utf8Start[Int(value & 15)])
  }
}
