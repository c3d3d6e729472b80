/// The id of a decision the interaction log made: its kind, the log's instance and the decision's
/// sequence number, written `<kind>-<instance>-<sequence>` (the kind's letter, then lower-case
/// hex without leading zeros), e.g. `d-1f3a9c02-2a`. Outcomes name their decision by it; the
/// sequence is the decision's place in the log's decision ring.
public struct DecisionID: Sendable, Hashable {
  /// Which call made the decision.
  public enum Kind: UInt8, Sendable, CaseIterable {
    /// `Decide`: one customer, one interaction.
    case decide = 0x64  // "d"
    /// `Personalize`: the slots of a page.
    case page = 0x70  // "p"
    /// `SelectOutbound`: one contact of a campaign.
    case outbound = 0x6F  // "o"

    /// The kind's letter in an id.
    public var letter: Character { Character(Unicode.Scalar(rawValue)) }
  }

  /// Sequences of decisions whose ids the log did not make carry this bit (never a real one).
  static let foreignBit: UInt64 = 1 << 63

  /// Which call made the decision.
  public var kind: Kind
  /// The interaction log's instance that made the id (written in hex).
  public var instance: UInt32
  /// The decision's sequence number in the log, at least 1 and below 2^63.
  public var sequence: UInt64

  /// An id from its parts; `sequence` is at least 1 and below 2^63.
  public init(kind: Kind, instance: UInt32, sequence: UInt64) {
    self.kind = kind
    self.instance = instance
    self.sequence = sequence
  }

  /// Reads an id in the log's format; nil for any other text (an id made elsewhere).
  public init?(parsing text: String) {
    var utf8 = text.utf8[...]
    guard let letter = utf8.first, let kind = Kind(rawValue: letter), utf8.dropFirst().first == UInt8(ascii: "-") else {
      return nil
    }
    utf8 = utf8.dropFirst(2)
    guard let dash = utf8.firstIndex(of: UInt8(ascii: "-")), let instance = Self.hex(utf8[..<dash], maxDigits: 8) else {
      return nil
    }
    guard let sequence = Self.hex(utf8[utf8.index(after: dash)...], maxDigits: 16), sequence != 0,
      sequence & Self.foreignBit == 0
    else { return nil }
    self.init(kind: kind, instance: UInt32(instance), sequence: sequence)
  }

  /// The id as text, made with one allocation; `instanceText` is the instance in hex.
  static func text(kind: Kind, instanceText: String, sequence: UInt64) -> String {
    let digits = max(1, (64 - sequence.leadingZeroBitCount + 3) / 4)
    let instance = instanceText.utf8
    return String(unsafeUninitializedCapacity: 3 + instance.count + digits) { out in
      var at = 0
      out[at] = kind.rawValue
      out[at + 1] = UInt8(ascii: "-")
      at += 2
      for byte in instance {
        out[at] = byte
        at += 1
      }
      out[at] = UInt8(ascii: "-")
      at += 1
      for k in stride(from: digits - 1, through: 0, by: -1) {
        let nibble = UInt8((sequence >> (UInt64(k) * 4)) & 15)
        out[at] = nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") + nibble - 10
        at += 1
      }
      return at
    }
  }

  /// The id as text.
  public var text: String { Self.text(kind: kind, instanceText: String(instance, radix: 16), sequence: sequence) }

  /// Lower-case hex digits without leading zeros (as `String(_:radix: 16)` writes them).
  private static func hex(_ digits: Substring.UTF8View, maxDigits: Int) -> UInt64? {
    guard !digits.isEmpty, digits.count <= maxDigits, digits.first != UInt8(ascii: "0") || digits.count == 1 else {
      return nil
    }
    var value: UInt64 = 0
    for byte in digits {
      let digit: UInt8
      switch byte {
      case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
      case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
      default: return nil
      }
      value = value << 4 | UInt64(digit)
    }
    return value
  }
}
