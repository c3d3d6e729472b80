import Foundation

/// The offer catalogue as stored on disk (`catalogue.json` in a bundle): everything a business
/// user configures about offers and how they are decided. It is compiled against a
/// ``FeatureSchema`` before use; a bad catalogue is refused naming the file, line and field.
public struct CatalogueDocument: Codable, Sendable, Hashable {
  /// The catalogue's version label, reported with each decision alongside the bundle's version.
  public var version: String
  /// The currency code that offer values and contact costs are in, e.g. "EUR".
  public var currency: String
  /// The feature holding the customer's age in years (for age rules).
  public var ageFeature: String
  /// How to say what a feature means when it pushes a propensity up or down.
  public var featurePhrases: [String: FeaturePhrase]
  /// The offers that can be decided, in catalogue order.
  public var offers: [OfferDefinition]
  /// Cost of one contact per channel name (an offer may override it).
  public var channelCosts: [String: Double]
  /// Limits on how often and how soon a customer may be contacted (defaults to no limits when absent).
  public var contactPolicy: ContactPolicy
  /// The random hold-out that is shown no offer in a group, for measuring uplift; nil means no control group.
  public var controlGroup: ControlGroupPolicy?
  /// How often, and how, to explore offers other than the best (defaults to no exploration when absent).
  public var exploration: ExplorationPolicy
  /// Limits on how many offers each channel can take in a period; empty means no channel is limited.
  public var capacity: [ChannelCapacity]
  /// How candidate offers are ranked against each other (defaults when absent).
  public var arbitration: ArbitrationPolicy
  /// Page diversity: at most this many offers of one category on a page (0: no limit).
  public var maxPerCategoryPerPage: Int
  /// When channels staffed by people are open (the contact centre for call-backs); a channel
  /// without hours is always open.
  public var openingHours: [OpeningHours]
  /// The decision's time budget and the offers answered when it runs out; nil: no budget but
  /// the caller's deadline, and no fallback offers.
  public var serviceLevel: ServiceLevelPolicy?
  /// Models that learn from every outcome (nil, the default: the offline models alone).
  public var adaptive: AdaptivePolicy?

  /// Creates a catalogue; the optional policies default to none or neutral.
  public init(
    version: String, currency: String, ageFeature: String, featurePhrases: [String: FeaturePhrase], offers: [OfferDefinition], channelCosts: [String: Double] = [:],
    contactPolicy: ContactPolicy = ContactPolicy(), controlGroup: ControlGroupPolicy? = nil,
    exploration: ExplorationPolicy = ExplorationPolicy(), capacity: [ChannelCapacity] = [],
    arbitration: ArbitrationPolicy = ArbitrationPolicy(), maxPerCategoryPerPage: Int = 0,
    openingHours: [OpeningHours] = [], serviceLevel: ServiceLevelPolicy? = nil
  ) {
    self.version = version
    self.currency = currency
    self.ageFeature = ageFeature
    self.featurePhrases = featurePhrases
    self.offers = offers
    self.channelCosts = channelCosts
    self.contactPolicy = contactPolicy
    self.controlGroup = controlGroup
    self.exploration = exploration
    self.capacity = capacity
    self.arbitration = arbitration
    self.maxPerCategoryPerPage = maxPerCategoryPerPage
    self.openingHours = openingHours
    self.serviceLevel = serviceLevel
  }

  private enum CodingKeys: String, CodingKey {
    case version, currency, ageFeature, featurePhrases, offers, channelCosts, contactPolicy, controlGroup
    case exploration, capacity, arbitration, maxPerCategoryPerPage, openingHours, serviceLevel, adaptive
  }

  /// Fields earlier catalogues had and this one refuses.
  private enum RetiredKeys: String, CodingKey {
    case consentFeatures
  }

  /// Decodes a catalogue, defaulting absent optional fields (policies, costs, phrases, page diversity) to none.
  /// Throws a `DecodingError` when a required field is missing or has the wrong type.
  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    version = try c.decode(String.self, forKey: .version)
    currency = try c.decode(String.self, forKey: .currency)
    ageFeature = try c.decode(String.self, forKey: .ageFeature)
    // Consent is recorded per customer, channel and purpose (the store's consent ledger), no
    // longer read from features: a catalogue that still names consent features is refused, so
    // that nobody believes they are obeyed.
    let retired = try decoder.container(keyedBy: RetiredKeys.self)
    if retired.contains(.consentFeatures) {
      throw DecodingError.dataCorruptedError(
        forKey: .consentFeatures, in: retired,
        debugDescription: "consentFeatures is no longer read: consents are recorded per customer, channel and "
          + "purpose (RecordConsents, POST /v1/consents, arbiter-tools import-consents); remove it")
    }
    featurePhrases = try c.decodeIfPresent([String: FeaturePhrase].self, forKey: .featurePhrases) ?? [:]
    offers = try c.decode([OfferDefinition].self, forKey: .offers)
    channelCosts = try c.decodeIfPresent([String: Double].self, forKey: .channelCosts) ?? [:]
    contactPolicy = try c.decodeIfPresent(ContactPolicy.self, forKey: .contactPolicy) ?? ContactPolicy()
    controlGroup = try c.decodeIfPresent(ControlGroupPolicy.self, forKey: .controlGroup)
    exploration = try c.decodeIfPresent(ExplorationPolicy.self, forKey: .exploration) ?? ExplorationPolicy()
    capacity = try c.decodeIfPresent([ChannelCapacity].self, forKey: .capacity) ?? []
    arbitration = try c.decodeIfPresent(ArbitrationPolicy.self, forKey: .arbitration) ?? ArbitrationPolicy()
    maxPerCategoryPerPage = try c.decodeIfPresent(Int.self, forKey: .maxPerCategoryPerPage) ?? 0
    openingHours = try c.decodeIfPresent([OpeningHours].self, forKey: .openingHours) ?? []
    serviceLevel = try c.decodeIfPresent(ServiceLevelPolicy.self, forKey: .serviceLevel)
    adaptive = try c.decodeIfPresent(AdaptivePolicy.self, forKey: .adaptive)
  }

  /// Days since 1970 of a `YYYY-MM-DD` date (UTC), or nil when it is not one.
  public static func days(ofDate text: String) -> Double? {
    let parts = text.split(separator: "-")
    guard parts.count == 3, parts[0].count == 4, let y = Int(parts[0]), let m = Int(parts[1]), let d = Int(parts[2]),
      (1...12).contains(m), (1...31).contains(d)
    else { return nil }
    var calendar = Calendar(identifier: .gregorian)
    calendar.timeZone = TimeZone(identifier: "UTC")!
    guard let date = calendar.date(from: DateComponents(year: y, month: m, day: d)),
      calendar.component(.day, from: date) == d
    else { return nil }
    return (date.timeIntervalSince1970 / 86_400).rounded()
  }
}

/// Phrases an agent can say about a customer's feature value.
public struct FeaturePhrase: Codable, Sendable, Hashable {
  /// When the customer's value is above the typical one (or a flag is set), e.g. "high card spend abroad".
  public var high: String
  /// When it is below (or a flag is not set), e.g. "rarely spends abroad".
  public var low: String

  /// Creates the phrases for a feature that is high (or set) and low (or not set).
  public init(high: String, low: String) {
    self.high = high
    self.low = low
  }
}

/// A comparison in an eligibility condition.
public enum ComparisonOperator: String, Codable, Sendable, Hashable {
  /// The customer's value is below the condition's value.
  case lessThan = "<"
  /// The customer's value is below or equal to the condition's value.
  case lessOrEqual = "<="
  /// The customer's value is above the condition's value.
  case greaterThan = ">"
  /// The customer's value is above or equal to the condition's value.
  case greaterOrEqual = ">="
  /// The customer's value equals the condition's value.
  case equal = "=="
  /// The customer's value differs from the condition's value (also true when the value is missing).
  case notEqual = "!="

  /// Applies the comparison. A missing (NaN) value satisfies no comparison but `!=`.
  @inlinable
  public func holds(_ lhs: Float, _ rhs: Float) -> Bool {
    switch self {
    case .lessThan: lhs < rhs
    case .lessOrEqual: lhs <= rhs
    case .greaterThan: lhs > rhs
    case .greaterOrEqual: lhs >= rhs
    case .equal: lhs == rhs
    case .notEqual: !(lhs == rhs)
    }
  }
}

/// An eligibility or suitability condition on one customer feature.
public struct OfferCondition: Codable, Sendable, Hashable {
  /// The name of the customer feature the condition tests, as in the ``FeatureSchema``.
  public var feature: String
  /// How the customer's value is compared with ``value``.
  public var op: ComparisonOperator
  /// The value the feature is compared with, in the feature's own unit.
  public var value: Double
  /// Shown when the condition fails, e.g. "needs an existing mortgage".
  public var description: String

  /// Creates a condition `feature op value` with the text shown when it fails.
  public init(feature: String, op: ComparisonOperator, value: Double, description: String) {
    self.feature = feature
    self.op = op
    self.value = value
    self.description = description
  }
}

/// How an offer reads on a channel. Templates may use `{first_name}`, `{name}`, `{offer}` and
/// `{feature:NAME}` (a customer feature's value).
public struct TreatmentTemplate: Codable, Sendable, Hashable {
  /// The headline of the offer on the channel (a template).
  public var title: String
  /// The body text shown or sent to the customer (a template).
  public var message: String
  /// For assisted channels (contact centre, branch): what the agent says.
  public var agentScript: String?

  /// Creates a treatment; `agentScript` is only for assisted channels.
  public init(title: String, message: String, agentScript: String? = nil) {
    self.title = title
    self.message = message
    self.agentScript = agentScript
  }
}

/// One offer of the catalogue.
public struct OfferDefinition: Codable, Sendable, Hashable {
  /// The offer's unique identifier, used in decisions, logs and models.
  public var id: String
  /// The offer's display name, used in treatments as `{offer}`.
  public var name: String
  /// The product the offer sells, e.g. "premium_card".
  public var product: String
  /// The offer's category, for page diversity, decline cool-downs and the default control group (empty when absent).
  public var category: String
  /// Margin to the bank if accepted, in the catalogue's currency.
  public var value: Double
  /// The channels the offer may be made on.
  public var channels: [Channel]
  /// A boolean feature that, when set, means the customer already holds the product.
  public var heldFeature: String?
  /// The youngest age in years a customer may be to get the offer; nil means no lower limit.
  public var minAge: Int?
  /// The oldest age in years a customer may be to get the offer; nil means no upper limit.
  public var maxAge: Int?
  /// Simple feature conditions the customer must all meet to be eligible; empty means none.
  public var conditions: [OfferCondition]
  /// Multipliers for interaction contexts, keyed "reason:<call reason>" or "page:<page>".
  public var contextWeights: [String: Double]
  /// Keyed by channel name; "default" applies to channels without their own.
  public var treatments: [String: TreatmentTemplate]
  /// Eligibility rule in the rule language (see ``RuleExpression``): may the bank offer it?
  public var eligibility: String?
  /// Suitability rule: is it right for this customer (e.g. risk appetite for an investment)?
  public var suitability: String?
  /// Cost of a contact per channel name, overriding the catalogue's ``CatalogueDocument/channelCosts``.
  public var costs: [String: Double]
  /// First and last day the offer may be made (`YYYY-MM-DD`, inclusive).
  public var validFrom: String?
  /// Last day the offer may be made (`YYYY-MM-DD`, inclusive); nil means no end date.
  public var validUntil: String?
  /// Business lever: multiplies the expected value (1 neutral; 1.5 pushes, 0.5 holds back).
  public var lever: Double
  /// Limits on how many times the offer may be made; nil means no quota.
  public var quota: OfferQuota?
  /// Capacity units one offer uses on a channel with capacity (overrides the channel's).
  public var capacityUnits: Double?
  /// Control group the offer belongs to (default: its category).
  public var group: String?
  /// The channel that carries the offer out when it is not the one it is made on: a call-back
  /// offered on the website is fulfilled by the contact centre. The offer is then made only while
  /// that channel is open (``CatalogueDocument/openingHours``) and uses that channel's capacity.
  public var fulfilledBy: Channel?
  /// With adaptive models, for an offer without a trained model: an offer it is a variant of,
  /// whose model's log-odds its adaptive model starts from (and learns how it differs).
  public var adaptivePriorFrom: String?
  /// What the customer must have consented to on the channel for the offer to be made:
  /// ``ConsentPurpose/marketing`` (the default) or ``ConsentPurpose/service``.
  public var purpose: ConsentPurpose

  /// Creates an offer definition; the optional rules and limits default to none and the lever to 1.
  public init(
    id: String, name: String, product: String, category: String, value: Double, channels: [Channel],
    heldFeature: String?, minAge: Int?, maxAge: Int?, conditions: [OfferCondition],
    contextWeights: [String: Double], treatments: [String: TreatmentTemplate], eligibility: String? = nil,
    suitability: String? = nil, costs: [String: Double] = [:], validFrom: String? = nil, validUntil: String? = nil,
    lever: Double = 1, quota: OfferQuota? = nil, capacityUnits: Double? = nil, group: String? = nil,
    fulfilledBy: Channel? = nil, purpose: ConsentPurpose = .marketing
  ) {
    self.fulfilledBy = fulfilledBy
    self.purpose = purpose
    self.eligibility = eligibility
    self.suitability = suitability
    self.costs = costs
    self.validFrom = validFrom
    self.validUntil = validUntil
    self.lever = lever
    self.quota = quota
    self.capacityUnits = capacityUnits
    self.group = group
    self.id = id
    self.name = name
    self.product = product
    self.category = category
    self.value = value
    self.channels = channels
    self.heldFeature = heldFeature
    self.minAge = minAge
    self.maxAge = maxAge
    self.conditions = conditions
    self.contextWeights = contextWeights
    self.treatments = treatments
  }

  private enum CodingKeys: String, CodingKey {
    case id, name, product, category, value, channels, heldFeature, minAge, maxAge, conditions
    case contextWeights, treatments, eligibility, suitability, costs, validFrom, validUntil, lever, quota,
      capacityUnits, group, fulfilledBy, purpose, adaptivePriorFrom
  }

  /// Decodes an offer, defaulting absent optional fields (category "", conditions, costs, lever 1) to none.
  /// Throws a `DecodingError` when a required field is missing or has the wrong type.
  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    id = try c.decode(String.self, forKey: .id)
    name = try c.decode(String.self, forKey: .name)
    product = try c.decode(String.self, forKey: .product)
    category = try c.decodeIfPresent(String.self, forKey: .category) ?? ""
    value = try c.decode(Double.self, forKey: .value)
    channels = try c.decode([Channel].self, forKey: .channels)
    heldFeature = try c.decodeIfPresent(String.self, forKey: .heldFeature)
    minAge = try c.decodeIfPresent(Int.self, forKey: .minAge)
    maxAge = try c.decodeIfPresent(Int.self, forKey: .maxAge)
    conditions = try c.decodeIfPresent([OfferCondition].self, forKey: .conditions) ?? []
    contextWeights = try c.decodeIfPresent([String: Double].self, forKey: .contextWeights) ?? [:]
    treatments = try c.decode([String: TreatmentTemplate].self, forKey: .treatments)
    eligibility = try c.decodeIfPresent(String.self, forKey: .eligibility)
    suitability = try c.decodeIfPresent(String.self, forKey: .suitability)
    costs = try c.decodeIfPresent([String: Double].self, forKey: .costs) ?? [:]
    validFrom = try c.decodeIfPresent(String.self, forKey: .validFrom)
    validUntil = try c.decodeIfPresent(String.self, forKey: .validUntil)
    lever = try c.decodeIfPresent(Double.self, forKey: .lever) ?? 1
    quota = try c.decodeIfPresent(OfferQuota.self, forKey: .quota)
    capacityUnits = try c.decodeIfPresent(Double.self, forKey: .capacityUnits)
    group = try c.decodeIfPresent(String.self, forKey: .group)
    fulfilledBy = try c.decodeIfPresent(Channel.self, forKey: .fulfilledBy)
    adaptivePriorFrom = try c.decodeIfPresent(String.self, forKey: .adaptivePriorFrom)
    purpose = try c.decodeIfPresent(ConsentPurpose.self, forKey: .purpose) ?? .marketing
    if purpose == .profiling {
      throw DecodingError.dataCorruptedError(
        forKey: .purpose, in: c, debugDescription: "an offer's purpose is marketing or service, not profiling")
    }
  }

  /// The treatment for a channel, falling back to "default".
  public func treatment(for channel: Channel) -> TreatmentTemplate? {
    treatments[channel.name] ?? treatments["default"]
  }
}
