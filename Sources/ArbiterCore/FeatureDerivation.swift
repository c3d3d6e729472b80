/// How a feature is kept up to date by real-time events, declared in the schema.
///
/// Times are in days since the Unix epoch. Decayed values halve every `halfLifeDays`, measured
/// from the row's clock (the feature whose kind is ``Kind/clock``: the time of the newest event
/// applied), and are decayed to the moment of reading when a decision reads them.
public struct FeatureDerivation: Codable, Sendable, Hashable {
  /// What a derived feature computes from the events.
  public enum Kind: String, Codable, Sendable {
    /// The time of the newest event applied to the row (state for decay; one per schema).
    case clock
    /// Number of matching events, optionally decayed.
    case count
    /// Sum of matching events' amounts (outgoing amounts count positive when `direction` is "out"), optionally decayed.
    case sum
    /// Running total of matching events' signed amounts (e.g. an account balance).
    case balance
    /// Days since the newest matching event: stored as that event's time, read as the difference.
    case recency
    /// Relative change of `source` against its exponentially weighted moving average (kept in `state`).
    case trend
    /// Set by a matching event whose |amount| ≥ `threshold`; stored as its time, read as 1 until it expires.
    case trigger
    /// Hidden state of another derivation (e.g. a trend's moving average); events do not touch it directly.
    case state
  }

  /// What the feature computes.
  public var kind: Kind
  /// Which events feed it: "transaction", "page_view", "call", "transfer"; nil takes every kind.
  public var event: String?
  /// For transactions: only this channel ("atm", "branch", "card", "online", "phone").
  public var channel: String?
  /// Only incoming ("in", amount > 0) or outgoing ("out", amount < 0) events.
  public var direction: String?
  /// Decay for count and sum, the averaging horizon for trend.
  public var halfLifeDays: Double?
  /// For trend: the feature whose trend it is.
  public var source: String?
  /// For trend: the state feature holding the moving average.
  public var state: String?
  /// For trigger: the smallest |amount| that sets it.
  public var threshold: Double?
  /// For trigger: how long it stays set.
  public var expiresAfterDays: Double?

  /// Creates a derivation; the fields that do not apply to `kind` stay nil.
  public init(
    kind: Kind, event: String? = nil, channel: String? = nil, direction: String? = nil, halfLifeDays: Double? = nil,
    source: String? = nil, state: String? = nil, threshold: Double? = nil, expiresAfterDays: Double? = nil
  ) {
    self.kind = kind
    self.event = event
    self.channel = channel
    self.direction = direction
    self.halfLifeDays = halfLifeDays
    self.source = source
    self.state = state
    self.threshold = threshold
    self.expiresAfterDays = expiresAfterDays
  }
}

/// A real-time event about one customer.
public struct CustomerEvent: Sendable, Hashable {
  /// What happened: a transaction, a web or app page view, a call to the contact centre, or a transfer.
  public enum Kind: String, Sendable, CaseIterable {
    /// A card or account transaction, a page view, a call, or a transfer.
    case transaction, pageView = "page_view", call, transfer

    /// The event kind's one-byte code in the feature store's write-ahead log (1–4).
    public var code: UInt8 {
      switch self {
      case .transaction: 1
      case .pageView: 2
      case .call: 3
      case .transfer: 4
      }
    }

    /// The kind with a write-ahead-log code, or nil when the code is unknown.
    public init?(code: UInt8) {
      guard let kind = Kind.allCases.first(where: { $0.code == code }) else { return nil }
      self = kind
    }
  }

  /// Where a transaction was made; `none` for events that are not transactions.
  public enum TransactionChannel: String, Sendable, CaseIterable {
    /// No channel (not a transaction), cash machine, branch, card payment, online, or phone.
    case none, atm, branch, card, online, phone

    /// The channel's one-byte code in the write-ahead log (its position in the cases, `none` being 0).
    public var code: UInt8 { UInt8(Self.allCases.firstIndex(of: self)!) }

    /// The channel with a write-ahead-log code, or nil when the code is out of range.
    public init?(code: UInt8) {
      guard Int(code) < Self.allCases.count else { return nil }
      self = Self.allCases[Int(code)]
    }
  }

  /// The id of the customer the event is about.
  public var customerId: UInt64
  /// What kind of event it is.
  public var kind: Kind
  /// When it happened, in milliseconds since the Unix epoch.
  public var timestampMillis: Int64
  /// Signed: negative is outgoing.
  public var amount: Double
  /// Where a transaction was made (`none` for other kinds).
  public var channel: TransactionChannel

  /// Creates an event; the amount defaults to 0 and the channel to none.
  public init(
    customerId: UInt64, kind: Kind, timestampMillis: Int64, amount: Double = 0, channel: TransactionChannel = .none
  ) {
    self.customerId = customerId
    self.kind = kind
    self.timestampMillis = timestampMillis
    self.amount = amount
    self.channel = channel
  }

  /// Event time in days since the Unix epoch.
  @inlinable public var days: Double { Double(timestampMillis) / 86_400_000 }
}
