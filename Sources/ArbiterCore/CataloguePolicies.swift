/// Catalogue-wide decision policies: contact rules, control groups, exploration, capacity and
/// the arbitration formula. Every field has a default, so a catalogue states only what it changes.

/// How often a customer may be contacted, kept against the interaction history that
/// `RecordOutcomes` and earlier decisions feed.
public struct ContactPolicy: Codable, Sendable, Hashable {
  /// At most `max` decisions that made an offer through `channel` within `windowDays`.
  public struct FrequencyCap: Codable, Sendable, Hashable {
    /// The channel the cap counts offers on.
    public var channel: Channel
    /// The most decisions with an offer on the channel allowed within the window.
    public var max: Int
    /// The length of the window in days, counted back from the decision's time.
    public var windowDays: Double
    /// Creates a cap of `max` offers through `channel` per `windowDays` days.
    public init(channel: Channel, max: Int, windowDays: Double) {
      self.channel = channel
      self.max = max
      self.windowDays = windowDays
    }
  }
  /// Per-channel frequency caps; empty means no channel is capped.
  public var frequencyCaps: [FrequencyCap]
  /// After a decline, no offer of the same category for this many days (0: off).
  public var declineCooldownDays: Double
  /// At most this many offers made in the last 7 days, all channels (0: no limit).
  public var maxOffersPerWeek: Int
  /// An offer accepted or declined is not made again for this many days (0: off).
  public var noRepeatDays: Double

  /// Whether any rule is set (otherwise decisions need no history).
  public var isActive: Bool {
    !frequencyCaps.isEmpty || declineCooldownDays > 0 || maxOffersPerWeek > 0 || noRepeatDays > 0
  }

  /// Creates a contact policy; every rule defaults to off.
  public init(
    frequencyCaps: [FrequencyCap] = [], declineCooldownDays: Double = 0, maxOffersPerWeek: Int = 0,
    noRepeatDays: Double = 0
  ) {
    self.frequencyCaps = frequencyCaps
    self.declineCooldownDays = declineCooldownDays
    self.maxOffersPerWeek = maxOffersPerWeek
    self.noRepeatDays = noRepeatDays
  }

  private enum CodingKeys: String, CodingKey { case frequencyCaps, declineCooldownDays, maxOffersPerWeek, noRepeatDays }
  /// Decodes a contact policy, treating absent rules as off; throws a `DecodingError` on a field of the wrong type.
  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    frequencyCaps = try c.decodeIfPresent([FrequencyCap].self, forKey: .frequencyCaps) ?? []
    declineCooldownDays = try c.decodeIfPresent(Double.self, forKey: .declineCooldownDays) ?? 0
    maxOffersPerWeek = try c.decodeIfPresent(Int.self, forKey: .maxOffersPerWeek) ?? 0
    noRepeatDays = try c.decodeIfPresent(Double.self, forKey: .noRepeatDays) ?? 0
  }
}

/// A deterministic hash-based holdout: for each customer × offer group, `share` of customers
/// are held out (shown nothing of the group) for `periodDays` at a time, to measure lift.
public struct ControlGroupPolicy: Codable, Sendable, Hashable {
  /// The fraction of customers held out of each offer group, in [0, 1); 0 holds out no one.
  public var share: Double
  /// How many days a customer's holdout assignment lasts before it is drawn again (default 30).
  public var periodDays: Double
  /// Changes the assignment without changing share or period.
  public var salt: String

  /// Creates a control group policy holding out `share` of customers for `periodDays` at a time.
  public init(share: Double, periodDays: Double = 30, salt: String = "") {
    self.share = share
    self.periodDays = periodDays
    self.salt = salt
  }

  private enum CodingKeys: String, CodingKey { case share, periodDays, salt }
  /// Decodes a control group policy (period 30 days and empty salt when absent); throws a `DecodingError` when `share`
  /// is missing.
  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    share = try c.decode(Double.self, forKey: .share)
    periodDays = try c.decodeIfPresent(Double.self, forKey: .periodDays) ?? 30
    salt = try c.decodeIfPresent(String.self, forKey: .salt) ?? ""
  }
}

/// How offers are drawn from the ranking. Every shown offer's draw probability is logged.
public struct ExplorationPolicy: Codable, Sendable, Hashable {
  /// The rule for choosing which ranked offer to show.
  public enum Method: String, Codable, Sendable {
    /// Always the best remaining offer (probability 1).
    case greedy
    /// With probability `epsilon` a uniformly random remaining offer, otherwise the best.
    case epsilonGreedy = "epsilon-greedy"
    /// Drawn in proportion to exp(priority / (temperature × best priority)), without replacement.
    case softmax
    /// Thompson sampling (needs `adaptive` models): each decision samples every offer's
    /// propensity from its posterior and takes the best sampled priority; the logged probability
    /// is estimated by resampling (``AdaptivePolicy/probabilityDraws``).
    case thompson
  }
  /// How offers are drawn (default greedy).
  public var method: Method
  /// For epsilon-greedy: the probability, in [0, 1], of drawing a random remaining offer instead of the best (default
  /// 0.05).
  public var epsilon: Double
  /// For softmax: how flat the draw is relative to the best priority, > 0; larger spreads the draw (default 0.2).
  public var temperature: Double

  /// Creates an exploration policy; the default is greedy, so nothing is explored.
  public init(method: Method = .greedy, epsilon: Double = 0.05, temperature: Double = 0.2) {
    self.method = method
    self.epsilon = epsilon
    self.temperature = temperature
  }

  private enum CodingKeys: String, CodingKey { case method, epsilon, temperature }
  /// Decodes an exploration policy, defaulting absent fields; throws a `DecodingError` on a field of the wrong type.
  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    method = try c.decodeIfPresent(Method.self, forKey: .method) ?? .greedy
    epsilon = try c.decodeIfPresent(Double.self, forKey: .epsilon) ?? 0.05
    temperature = try c.decodeIfPresent(Double.self, forKey: .temperature) ?? 0.2
  }
}

/// The contact capacity of a channel, e.g. contact-centre agent minutes per hour.
public struct ChannelCapacity: Codable, Sendable, Hashable {
  /// The channel whose contacts use the capacity.
  public var channel: Channel
  /// Capacity units (e.g. agent minutes) available per hour.
  public var unitsPerHour: Double
  /// Units one offer made through the channel uses (an offer may override it).
  public var unitsPerOffer: Double

  /// Creates a capacity of `unitsPerHour` units for a channel, each offer using `unitsPerOffer`.
  public init(channel: Channel, unitsPerHour: Double, unitsPerOffer: Double) {
    self.channel = channel
    self.unitsPerHour = unitsPerHour
    self.unitsPerOffer = unitsPerOffer
  }
}

/// At most `limit` offers made per period, paced across the period.
public struct OfferQuota: Codable, Sendable, Hashable {
  /// The period over which a quota's limit applies.
  public enum Period: String, Codable, Sendable {
    /// One hour, one day, or seven days.
    case hour, day, week

    /// The length of the period in days (1/24 for an hour).
    public var days: Double {
      switch self {
      case .hour: 1.0 / 24
      case .day: 1
      case .week: 7
      }
    }
  }
  /// The most offers that may be made in one period.
  public var limit: Int
  /// The period the limit applies to.
  public var period: Period

  /// Creates a quota of `limit` offers per `period`.
  public init(limit: Int, period: Period) {
    self.limit = limit
    self.period = period
  }
}

/// priority = propensity × value × context weight × lever − channel cost (when subtracted) −
/// shadow prices of quotas and capacity being used faster than their pace.
///
/// The channel cost is the cost of a contact the bank initiates (e-mail, SMS, an outbound call).
/// In an inbound interaction (web, app, a customer calling or walking in) the contact is already
/// paid for; an offer in it costs `inboundCostShare` of the channel's contact cost (the agent's
/// extra minutes).
public struct ArbitrationPolicy: Codable, Sendable, Hashable {
  /// What an offer's expected value is computed from.
  public enum Objective: String, Codable, Sendable, Hashable {
    /// The probability of a response when offered: propensity × value.
    case response
    /// The incremental effect of offering: (p(response | offered) − p(response | not offered)) ×
    /// value, from each offer's model and its control model (trained on the control group); an
    /// offer that would not change what the customer does is worth nothing, one that puts
    /// customers off is worth less than nothing.
    case uplift
  }

  /// Whether the channel's contact cost is subtracted from the priority (default true).
  public var subtractChannelCost: Bool
  /// The fraction, in [0, 1], of the channel's contact cost charged to an offer in an inbound interaction (default 1).
  public var inboundCostShare: Double
  /// Whether quotas and capacity are paced by shadow prices (otherwise only hard limits).
  public var pacing: Bool
  /// Response (default) or uplift.
  public var objective: Objective

  /// Creates an arbitration policy; by default the channel cost is subtracted in full, pacing is
  /// on and offers are valued by their response.
  public init(
    subtractChannelCost: Bool = true, inboundCostShare: Double = 1, pacing: Bool = true, objective: Objective = .response
  ) {
    self.subtractChannelCost = subtractChannelCost
    self.inboundCostShare = inboundCostShare
    self.pacing = pacing
    self.objective = objective
  }

  private enum CodingKeys: String, CodingKey { case subtractChannelCost, inboundCostShare, pacing, objective }
  /// Decodes an arbitration policy, defaulting absent fields; throws a `DecodingError` on a field of the wrong type.
  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    subtractChannelCost = try c.decodeIfPresent(Bool.self, forKey: .subtractChannelCost) ?? true
    inboundCostShare = try c.decodeIfPresent(Double.self, forKey: .inboundCostShare) ?? 1
    pacing = try c.decodeIfPresent(Bool.self, forKey: .pacing) ?? true
    objective = try c.decodeIfPresent(Objective.self, forKey: .objective) ?? .response
  }

  /// Encodes the policy, leaving out the default objective (so existing catalogues keep their bytes).
  public func encode(to encoder: any Encoder) throws {
    var c = encoder.container(keyedBy: CodingKeys.self)
    try c.encode(subtractChannelCost, forKey: .subtractChannelCost)
    try c.encode(inboundCostShare, forKey: .inboundCostShare)
    try c.encode(pacing, forKey: .pacing)
    if objective != .response { try c.encode(objective, forKey: .objective) }
  }
}

/// How long a decision may take, and what it answers when it cannot finish in time: the
/// catalogue's fallback offers (generic, safe ones), those the customer is eligible for, in this
/// order, unscored, marked as a fallback in the response, the log and the metrics.
///
/// A decision's budget is the caller's deadline (less what answering takes), or
/// ``budgetMillis`` when that is sooner.
public struct ServiceLevelPolicy: Codable, Sendable, Hashable {
  /// The most a decision may take, in milliseconds (> 0); nil: only the caller's deadline.
  public var budgetMillis: Double?
  /// Offer ids answered when a decision runs out of time, in order.
  public var fallbackOffers: [String]

  /// A policy with a budget (nil: the caller's deadline alone) and fallback offers.
  public init(budgetMillis: Double? = nil, fallbackOffers: [String] = []) {
    self.budgetMillis = budgetMillis
    self.fallbackOffers = fallbackOffers
  }

  private enum CodingKeys: String, CodingKey { case budgetMillis, fallbackOffers }
  /// Decodes a policy, defaulting absent fields; throws a `DecodingError` on a field of the wrong type.
  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    budgetMillis = try c.decodeIfPresent(Double.self, forKey: .budgetMillis)
    fallbackOffers = try c.decodeIfPresent([String].self, forKey: .fallbackOffers) ?? []
  }
}
