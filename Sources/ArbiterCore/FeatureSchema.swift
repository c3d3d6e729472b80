/// The kinds of value a feature holds. All are stored as `Float` in a customer vector.
public enum FeatureKind: Sendable, Hashable, Codable {
  /// A number, possibly missing (NaN).
  case numeric
  /// A flag stored as 1 (set) or 0 (not set).
  case boolean
  /// A categorical feature stored as its level's code (0, 1, 2, …).
  case categorical(levels: [String])

  private enum CodingKeys: String, CodingKey { case type, levels }

  /// Decodes a kind from `{"type": "numeric" | "boolean" | "categorical", "levels": [...]}`.
  /// Throws a `DecodingError` on an unknown type or a categorical kind without levels.
  public init(from decoder: any Decoder) throws {
    let container = try decoder.container(keyedBy: CodingKeys.self)
    switch try container.decode(String.self, forKey: .type) {
    case "numeric": self = .numeric
    case "boolean": self = .boolean
    case "categorical": self = .categorical(levels: try container.decode([String].self, forKey: .levels))
    case let other:
      throw DecodingError.dataCorruptedError(
        forKey: .type, in: container, debugDescription: "unknown feature type '\(other)'")
    }
  }

  /// Encodes the kind as `{"type": ..., "levels": [...]}` (levels only for a categorical kind).
  public func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: CodingKeys.self)
    switch self {
    case .numeric: try container.encode("numeric", forKey: .type)
    case .boolean: try container.encode("boolean", forKey: .type)
    case .categorical(let levels):
      try container.encode("categorical", forKey: .type)
      try container.encode(levels, forKey: .levels)
    }
  }
}

/// One named feature of a schema.
public struct FeatureDefinition: Sendable, Hashable, Codable {
  /// The feature's name, unique in the schema, used by models, rules and the catalogue.
  public var name: String
  /// What kind of value the feature holds.
  public var kind: FeatureKind
  /// What the feature means, for people reading the schema (not used in decisions).
  public var description: String
  /// How real-time events keep it current; nil for a feature set only by imports and upserts.
  public var derive: FeatureDerivation?
  /// The smallest valid value (`"min"` in schema.json), as read: imports and upserts refuse less.
  public var minimum: Double?
  /// The largest valid value (`"max"` in schema.json), as read: imports and upserts refuse more.
  public var maximum: Double?
  /// How the agent's customer view shows it; nil for a feature the view leaves out.
  public var profile: FeatureProfile?

  private enum CodingKeys: String, CodingKey {
    case name, kind, description, derive
    case minimum = "min"
    case maximum = "max"
    case profile
  }

  /// A feature; `minimum` and `maximum` bound its valid values, `profile` shows it to agents.
  public init(
    name: String, kind: FeatureKind, description: String, derive: FeatureDerivation? = nil, minimum: Double? = nil,
    maximum: Double? = nil, profile: FeatureProfile? = nil
  ) {
    self.name = name
    self.kind = kind
    self.description = description
    self.derive = derive
    self.minimum = minimum
    self.maximum = maximum
    self.profile = profile
  }

  /// Why `value` lies outside the declared range, e.g. "age = -3 is below its minimum 18"; nil
  /// when it is inside (or missing, or no range is declared).
  public func rangeProblem(_ value: Float) -> String? {
    guard !value.isNaN else { return nil }
    if let minimum, Double(value) < minimum {
      return "\(name) = \(Self.text(Double(value))) is below its minimum \(Self.text(minimum))"
    }
    if let maximum, Double(value) > maximum {
      return "\(name) = \(Self.text(Double(value))) is above its maximum \(Self.text(maximum))"
    }
    return nil
  }

  /// A number as people write it: whole numbers without a fraction.
  static func text(_ value: Double) -> String {
    if value.isFinite && value == value.rounded() && abs(value) < 1e15 { return String(Int64(value)) }
    return "\(value)"
  }
}

/// How an agent's customer view shows a feature (`"profile"` in schema.json): under its label,
/// or — for a boolean that says the customer holds a product — among the products held.
public struct FeatureProfile: Sendable, Hashable, Codable {
  /// What the agent reads, e.g. "Age" or, for a holding, the product's name ("Mortgage").
  public var label: String
  /// For a boolean holding feature: the product it says the customer holds (an offer's
  /// `product`), listed among the customer's products when the feature is set.
  public var product: String?

  /// A feature shown under `label`; a holding of `product` when given.
  public init(label: String, product: String? = nil) {
    self.label = label
    self.product = product
  }
}

/// Where a model reads a feature from: the customer's stored vector or the request's context.
public enum FeatureSource: Sendable, Hashable {
  /// The feature at this index in the customer's stored vector.
  case customer(Int)
  /// The feature at this index in the request's context vector.
  case context(Int)
}

/// The layout of customer vectors and of the per-request context vector.
///
/// Names are resolved to indices once, when something (a model, a rule) is loaded against the
/// schema; nothing looks a feature up by name at decision time.
public struct FeatureSchema: Sendable, Hashable, Codable {
  /// Features stored per customer, in vector order.
  public var customerFeatures: [FeatureDefinition]
  /// Features of the interaction, built per request (e.g. the channel).
  public var contextFeatures: [FeatureDefinition]

  /// Creates a schema from its customer and context features, in vector order.
  public init(customerFeatures: [FeatureDefinition], contextFeatures: [FeatureDefinition]) {
    self.customerFeatures = customerFeatures
    self.contextFeatures = contextFeatures
  }

  /// Number of values in a customer vector.
  public var width: Int { customerFeatures.count }

  /// The schema as stored vectors are laid out by it: every feature's name, kind and
  /// derivation, without what only describes or checks them (descriptions, valid ranges, how
  /// the agent's view shows them). Two schemas with the same layout read the same stored
  /// customers, so a bundle may relabel its profile view or tighten a range without the
  /// feature store being rebuilt.
  public var layout: FeatureSchema {
    func bare(_ feature: FeatureDefinition) -> FeatureDefinition {
      FeatureDefinition(name: feature.name, kind: feature.kind, description: "", derive: feature.derive)
    }
    return FeatureSchema(customerFeatures: customerFeatures.map(bare), contextFeatures: contextFeatures.map(bare))
  }

  /// The index of a customer feature, or nil.
  public func customerIndex(of name: String) -> Int? {
    customerFeatures.firstIndex { $0.name == name }
  }

  /// Resolves a feature name against both customer and context features.
  public func source(of name: String) -> FeatureSource? {
    if let index = customerIndex(of: name) { return .customer(index) }
    if let index = contextFeatures.firstIndex(where: { $0.name == name }) { return .context(index) }
    return nil
  }

  /// The definition behind a source.
  public func definition(of source: FeatureSource) -> FeatureDefinition {
    switch source {
    case .customer(let index): customerFeatures[index]
    case .context(let index): contextFeatures[index]
    }
  }

  /// Like ``customerIndex(of:)`` but throws an error naming the feature and who needed it.
  public func requireCustomerIndex(_ name: String, for user: String) throws(ArbiterError) -> Int {
    guard let index = customerIndex(of: name) else {
      throw ArbiterError(.failedPrecondition, "\(user) needs feature '\(name)', which the schema lacks")
    }
    return index
  }

  /// Checks names are unique and categorical features have levels.
  public func validate() throws(ArbiterError) {
    var seen = Set<String>()
    for feature in customerFeatures + contextFeatures {
      guard !feature.name.isEmpty else {
        throw ArbiterError(.invalidArgument, "schema has a feature with an empty name")
      }
      guard seen.insert(feature.name).inserted else {
        throw ArbiterError(.invalidArgument, "schema declares feature '\(feature.name)' twice")
      }
      if case .categorical(let levels) = feature.kind, levels.isEmpty {
        throw ArbiterError(.invalidArgument, "categorical feature '\(feature.name)' has no levels")
      }
      try validateRange(of: feature)
    }
    for feature in contextFeatures where feature.profile != nil {
      throw ArbiterError(
        .invalidArgument, "context feature '\(feature.name)': profile applies to customer features only")
    }
    for feature in customerFeatures { try validateProfile(of: feature) }
  }

  /// Checks a profile entry: a label, and a product only on a boolean feature.
  private func validateProfile(of feature: FeatureDefinition) throws(ArbiterError) {
    guard let profile = feature.profile else { return }
    guard !profile.label.isEmpty else {
      throw ArbiterError(.invalidArgument, "feature '\(feature.name)': profile.label is empty")
    }
    if let product = profile.product {
      guard feature.kind == .boolean, !product.isEmpty else {
        throw ArbiterError(
          .invalidArgument, "feature '\(feature.name)': profile.product names a product held, on a boolean feature only"
        )
      }
    }
  }

  /// Checks a declared range: numeric features only, finite bounds, min <= max.
  private func validateRange(of feature: FeatureDefinition) throws(ArbiterError) {
    guard feature.minimum != nil || feature.maximum != nil else { return }
    guard feature.kind == .numeric else {
      throw ArbiterError(.invalidArgument, "feature '\(feature.name)': min and max apply to numeric features only")
    }
    for (field, bound) in [("min", feature.minimum), ("max", feature.maximum)] {
      if let bound, !bound.isFinite {
        throw ArbiterError(.invalidArgument, "feature '\(feature.name)': \(field) must be a finite number")
      }
    }
    if let minimum = feature.minimum, let maximum = feature.maximum, minimum > maximum {
      let bounds = "min \(FeatureDefinition.text(minimum)) is above max \(FeatureDefinition.text(maximum))"
      throw ArbiterError(.invalidArgument, "feature '\(feature.name)': \(bounds)")
    }
  }
}
