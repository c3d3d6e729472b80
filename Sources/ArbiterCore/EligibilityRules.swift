/// Why an offer cannot be made to a customer on a channel.
public struct Ineligibility: Sendable, Hashable {
  public enum Code: String, Sendable {
    case channelNotAllowed = "CHANNEL_NOT_ALLOWED"
    case noConsent = "NO_CONSENT"
    case alreadyHeld = "ALREADY_HELD"
    case ageRule = "AGE_RULE"
    case rule = "RULE"
  }
  public var code: Code
  public var detail: String
}

/// The catalogue's eligibility and consent rules compiled against a schema: channel allowed,
/// consent for the channel, product not already held, age band, and each offer's conditions.
/// Feature names are resolved to indices here, once.
public struct EligibilityRules: Sendable {
  public struct Condition: Sendable {
    public let feature: Int
    public let op: ComparisonOperator
    public let value: Float
    public let description: String
  }

  public struct OfferRules: Sendable {
    public let heldFeature: Int?
    public let product: String
    public let minAge: Float?
    public let maxAge: Float?
    public let conditions: [Condition]
    /// Bit `channel.ordinal` set when the offer may go through that channel.
    public let channelMask: UInt32

    @inlinable public func allows(_ channel: Channel) -> Bool { channelMask & (1 << UInt32(channel.ordinal)) != 0 }
  }

  public let offers: [OfferRules]
  public let ageFeature: Int
  /// Per channel ordinal: the consent feature, if the channel needs consent.
  public let consentFeature: [Int?]

  public init(catalogue: CatalogueDocument, schema: FeatureSchema, file: String = "catalogue.json") throws(ArbiterError) {
    ageFeature = try schema.requireCustomerIndex(catalogue.ageFeature, for: "\(file): ageFeature")
    var consent = [Int?](repeating: nil, count: Channel.allCases.count)
    for (name, feature) in catalogue.consentFeatures {
      guard let channel = Channel(name: name) else {
        throw ArbiterError(.invalidArgument, "\(file): consentFeatures names unknown channel '\(name)'")
      }
      consent[channel.ordinal] = try schema.requireCustomerIndex(feature, for: "\(file): consentFeatures.\(name)")
    }
    consentFeature = consent
    var offers: [OfferRules] = []
    for (position, offer) in catalogue.offers.enumerated() {
      let what = "\(file): offers[\(position)] ('\(offer.id)')"
      let held = try offer.heldFeature.map { name throws(ArbiterError) in try schema.requireCustomerIndex(name, for: "\(what).heldFeature") }
      var conditions: [Condition] = []
      for (c, condition) in offer.conditions.enumerated() {
        let feature = try schema.requireCustomerIndex(condition.feature, for: "\(what).conditions[\(c)]")
        guard condition.value.isFinite else { throw ArbiterError(.invalidArgument, "\(what).conditions[\(c)].value must be finite") }
        conditions.append(Condition(feature: feature, op: condition.op, value: Float(condition.value), description: condition.description))
      }
      if let minAge = offer.minAge, let maxAge = offer.maxAge, minAge > maxAge {
        throw ArbiterError(.invalidArgument, "\(what): minAge \(minAge) exceeds maxAge \(maxAge)")
      }
      let mask = offer.channels.reduce(UInt32(0)) { $0 | 1 << UInt32($1.ordinal) }
      offers.append(OfferRules(
        heldFeature: held, product: offer.product, minAge: offer.minAge.map(Float.init), maxAge: offer.maxAge.map(Float.init),
        conditions: conditions, channelMask: mask))
    }
    self.offers = offers
  }

  /// Whether the customer consents to marketing on `channel` (missing consent means no).
  @inlinable
  public func consents(_ customer: UnsafeBufferPointer<Float>, on channel: Channel) -> Bool {
    guard let feature = consentFeature[channel.ordinal] else { return true }
    return customer[feature] == 1
  }

  /// Nil when offer `index` may be made to `customer` on `channel`, else why not. Rules are
  /// checked in a fixed order: channel, consent, held product, age, conditions.
  @inlinable
  public func check(offer index: Int, customer: UnsafeBufferPointer<Float>, channel: Channel, consentGiven: Bool) -> Ineligibility.Code? {
    let rules = offers[index]
    if !rules.allows(channel) { return .channelNotAllowed }
    if !consentGiven { return .noConsent }
    if let held = rules.heldFeature, customer[held] == 1 { return .alreadyHeld }
    let age = customer[ageFeature]
    if let minAge = rules.minAge, !(age >= minAge) { return .ageRule }
    if let maxAge = rules.maxAge, !(age <= maxAge) { return .ageRule }
    for condition in rules.conditions where !condition.op.holds(customer[condition.feature], condition.value) { return .rule }
    return nil
  }

  /// Like ``check(offer:customer:channel:consentGiven:)`` with a human explanation (for explain
  /// mode; allocates).
  public func explain(offer index: Int, customer: UnsafeBufferPointer<Float>, channel: Channel, consentGiven: Bool) -> Ineligibility? {
    guard let code = check(offer: index, customer: customer, channel: channel, consentGiven: consentGiven) else { return nil }
    let rules = offers[index]
    let age = customer[ageFeature]
    let ageText = age.isNaN ? "unknown" : String(Int(age))
    let detail: String
    switch code {
    case .channelNotAllowed: detail = "not offered through \(channel.name)"
    case .noConsent: detail = "no marketing consent for \(channel.name)"
    case .alreadyHeld: detail = "already holds \(rules.product)"
    case .ageRule:
      if let minAge = rules.minAge, !(age >= minAge) { detail = "age \(ageText) below minimum \(Int(minAge))" } else {
        detail = "age \(ageText) above maximum \(Int(rules.maxAge ?? 0))"
      }
    case .rule:
      detail = rules.conditions.first { !$0.op.holds(customer[$0.feature], $0.value) }?.description ?? "rule failed"
    }
    return Ineligibility(code: code, detail: detail)
  }
}
