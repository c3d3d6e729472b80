/// A customer's consent for one channel and purpose as last recorded: given or withdrawn, when,
/// and where (its source).
public struct ConsentRecord: Sendable, Hashable {
  /// The channel the consent is for.
  public var channel: Channel
  /// What it is for.
  public var purpose: ConsentPurpose
  /// Given or withdrawn.
  public var state: ConsentState
  /// When it was given or withdrawn, in milliseconds since the Unix epoch.
  public var timestampMillis: Int64
  /// Where it was given or withdrawn, e.g. "web-preferences" or "csv:crm-export.csv".
  public var source: String

  /// The longest source accepted, in characters (Unicode scalars, as JSON Schema counts them).
  public static let maxSourceCharacters = 64

  /// Creates a record.
  public init(channel: Channel, purpose: ConsentPurpose, state: ConsentState, timestampMillis: Int64, source: String) {
    self.channel = channel
    self.purpose = purpose
    self.state = state
    self.timestampMillis = timestampMillis
    self.source = source
  }

  /// Why `source` is refused (empty, too long, or with control characters); nil when it is accepted.
  public static func sourceProblem(_ source: String) -> String? {
    if source.isEmpty { return "source is empty (say where the consent was given, e.g. \"web-preferences\")" }
    if source.unicodeScalars.count > maxSourceCharacters {
      return "source is longer than \(maxSourceCharacters) characters"
    }
    if source.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
      return "source has a control character"
    }
    return nil
  }
}

/// One consent given or withdrawn for a customer: what ``ConsentRecord`` records, with the customer.
public struct ConsentChange: Sendable, Hashable {
  /// The customer.
  public var customerId: UInt64
  /// The consent as it now stands.
  public var record: ConsentRecord

  /// Creates a change.
  public init(customerId: UInt64, record: ConsentRecord) {
    self.customerId = customerId
    self.record = record
  }
}
