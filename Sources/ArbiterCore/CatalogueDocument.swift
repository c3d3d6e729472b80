/// The offer catalogue as stored on disk (`catalogue.json` in a bundle): everything a business
/// user configures about offers. It is compiled against a ``FeatureSchema`` before use.
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

  public init(
    version: String, currency: String, ageFeature: String, consentFeatures: [String: String],
    featurePhrases: [String: FeaturePhrase], offers: [OfferDefinition]
  ) {
    self.version = version
    self.currency = currency
    self.ageFeature = ageFeature
    self.consentFeatures = consentFeatures
    self.featurePhrases = featurePhrases
    self.offers = offers
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

  public init(
    id: String, name: String, product: String, category: String, value: Double, channels: [Channel],
    heldFeature: String?, minAge: Int?, maxAge: Int?, conditions: [OfferCondition],
    contextWeights: [String: Double], treatments: [String: TreatmentTemplate]
  ) {
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
    case contextWeights, treatments
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
  }

  /// The treatment for a channel, falling back to "default".
  public func treatment(for channel: Channel) -> TreatmentTemplate? {
    treatments[channel.name] ?? treatments["default"]
  }
}
