import Foundation

/// The offer catalogue as stored on disk (`catalogue.json` in a bundle): everything a business
/// user configures about offers and how they are decided. It is compiled against a
/// ``FeatureSchema`` before use; a bad catalogue is refused naming the file, line and field.
public struct CatalogueDocument: Codable, Sendable, Hashable {
  public var version: String
  public var currency: String
  /// The feature holding the customer's age in years (for age rules).
  public var ageFeature: String
  /// The boolean feature that grants marketing consent on each channel.
  public var consentFeatures: [String: String]
  /// How to say what a feature means when it pushes a propensity up or down.
  public var featurePhrases: [String: FeaturePhrase]
  public var offers: [OfferDefinition]
  /// Cost of one contact per channel name (an offer may override it).
  public var channelCosts: [String: Double]
  public var contactPolicy: ContactPolicy
  public var controlGroup: ControlGroupPolicy?
  public var exploration: ExplorationPolicy
  public var capacity: [ChannelCapacity]
  public var arbitration: ArbitrationPolicy
  /// Page diversity: at most this many offers of one category on a page (0: no limit).
  public var maxPerCategoryPerPage: Int

  public init(
    version: String, currency: String, ageFeature: String, consentFeatures: [String: String],
    featurePhrases: [String: FeaturePhrase], offers: [OfferDefinition], channelCosts: [String: Double] = [:],
    contactPolicy: ContactPolicy = ContactPolicy(), controlGroup: ControlGroupPolicy? = nil,
    exploration: ExplorationPolicy = ExplorationPolicy(), capacity: [ChannelCapacity] = [],
    arbitration: ArbitrationPolicy = ArbitrationPolicy(), maxPerCategoryPerPage: Int = 0
  ) {
    self.version = version
    self.currency = currency
    self.ageFeature = ageFeature
    self.consentFeatures = consentFeatures
    self.featurePhrases = featurePhrases
    self.offers = offers
    self.channelCosts = channelCosts
    self.contactPolicy = contactPolicy
    self.controlGroup = controlGroup
    self.exploration = exploration
    self.capacity = capacity
    self.arbitration = arbitration
    self.maxPerCategoryPerPage = maxPerCategoryPerPage
  }

  private enum CodingKeys: String, CodingKey {
    case version, currency, ageFeature, consentFeatures, featurePhrases, offers, channelCosts, contactPolicy, controlGroup
    case exploration, capacity, arbitration, maxPerCategoryPerPage
  }

  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    version = try c.decode(String.self, forKey: .version)
    currency = try c.decode(String.self, forKey: .currency)
    ageFeature = try c.decode(String.self, forKey: .ageFeature)
    consentFeatures = try c.decodeIfPresent([String: String].self, forKey: .consentFeatures) ?? [:]
    featurePhrases = try c.decodeIfPresent([String: FeaturePhrase].self, forKey: .featurePhrases) ?? [:]
    offers = try c.decode([OfferDefinition].self, forKey: .offers)
    channelCosts = try c.decodeIfPresent([String: Double].self, forKey: .channelCosts) ?? [:]
    contactPolicy = try c.decodeIfPresent(ContactPolicy.self, forKey: .contactPolicy) ?? ContactPolicy()
    controlGroup = try c.decodeIfPresent(ControlGroupPolicy.self, forKey: .controlGroup)
    exploration = try c.decodeIfPresent(ExplorationPolicy.self, forKey: .exploration) ?? ExplorationPolicy()
    capacity = try c.decodeIfPresent([ChannelCapacity].self, forKey: .capacity) ?? []
    arbitration = try c.decodeIfPresent(ArbitrationPolicy.self, forKey: .arbitration) ?? ArbitrationPolicy()
    maxPerCategoryPerPage = try c.decodeIfPresent(Int.self, forKey: .maxPerCategoryPerPage) ?? 0
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

  public init(high: String, low: String) {
    self.high = high
    self.low = low
  }
}

/// A comparison in an eligibility condition.
public enum ComparisonOperator: String, Codable, Sendable, Hashable {
  case lessThan = "<"
  case lessOrEqual = "<="
  case greaterThan = ">"
  case greaterOrEqual = ">="
  case equal = "=="
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
  public var feature: String
  public var op: ComparisonOperator
  public var value: Double
  /// Shown when the condition fails, e.g. "needs an existing mortgage".
  public var description: String

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
  public var title: String
  public var message: String
  /// For assisted channels (contact centre, branch): what the agent says.
  public var agentScript: String?

  public init(title: String, message: String, agentScript: String? = nil) {
    self.title = title
    self.message = message
    self.agentScript = agentScript
  }
}

/// One offer of the catalogue.
public struct OfferDefinition: Codable, Sendable, Hashable {
  public var id: String
  public var name: String
  /// The product the offer sells, e.g. "premium_card".
  public var product: String
  public var category: String
  /// Margin to the bank if accepted, in the catalogue's currency.
  public var value: Double
  public var channels: [Channel]
  /// A boolean feature that, when set, means the customer already holds the product.
  public var heldFeature: String?
  public var minAge: Int?
  public var maxAge: Int?
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
  public var validUntil: String?
  /// Business lever: multiplies the expected value (1 neutral; 1.5 pushes, 0.5 holds back).
  public var lever: Double
  public var quota: OfferQuota?
  /// Capacity units one offer uses on a channel with capacity (overrides the channel's).
  public var capacityUnits: Double?
  /// Control group the offer belongs to (default: its category).
  public var group: String?

  public init(
    id: String, name: String, product: String, category: String, value: Double, channels: [Channel],
    heldFeature: String?, minAge: Int?, maxAge: Int?, conditions: [OfferCondition],
    contextWeights: [String: Double], treatments: [String: TreatmentTemplate], eligibility: String? = nil,
    suitability: String? = nil, costs: [String: Double] = [:], validFrom: String? = nil, validUntil: String? = nil,
    lever: Double = 1, quota: OfferQuota? = nil, capacityUnits: Double? = nil, group: String? = nil
  ) {
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
    case contextWeights, treatments, eligibility, suitability, costs, validFrom, validUntil, lever, quota, capacityUnits, group
  }

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
  }

  /// The treatment for a channel, falling back to "default".
  public func treatment(for channel: Channel) -> TreatmentTemplate? {
    treatments[channel.name] ?? treatments["default"]
  }
}
