import Foundation

/// Why an offer cannot be made to a customer on a channel.
public struct Ineligibility: Sendable, Hashable {
  /// The rule an offer failed, as a stable code for logs and the API.
  public enum Code: String, Sendable {
    /// The offer is not made through the channel of the decision.
    case channelNotAllowed = "CHANNEL_NOT_ALLOWED"
    /// The customer has not given consent on the channel for the offer's purpose (marketing or service).
    case noConsent = "NO_CONSENT"
    /// The customer already holds the offer's product.
    case alreadyHeld = "ALREADY_HELD"
    /// The customer's age is outside the offer's age band (or unknown).
    case ageRule = "AGE_RULE"
    /// A feature condition or the eligibility rule is not met.
    case rule = "RULE"
    /// The suitability rule is not met: the offer is not right for this customer.
    case suitability = "SUITABILITY"
    /// The decision's time is outside the offer's validity dates.
    case notValidNow = "NOT_VALID_NOW"
  }
  /// Which rule the offer failed.
  public var code: Code
  /// A human explanation of the failure, e.g. "already holds premium_card".
  public var detail: String
}

/// The catalogue's eligibility and consent rules compiled against a schema: channel allowed,
/// consent for the channel, product not already held, age band, and each offer's conditions.
/// Feature names are resolved to indices here, once.
public struct EligibilityRules: Sendable {
  /// One compiled feature condition of an offer.
  public struct Condition: Sendable {
    /// The index of the tested feature in the customer vector.
    public let feature: Int
    /// How the customer's value is compared with ``value``.
    public let op: ComparisonOperator
    /// The value the feature is compared with.
    public let value: Float
    /// The text shown when the condition fails.
    public let description: String
  }

  /// One offer's rules; a class, so that checking an offer touches one reference.
  public final class OfferRules: Sendable {
    /// The customer-vector index of the boolean feature meaning the product is already held; nil when there is none.
    public let heldFeature: Int?
    /// The product the offer sells, for explanations.
    public let product: String
    /// The youngest age in years allowed; nil means no lower limit.
    public let minAge: Float?
    /// The oldest age in years allowed; nil means no upper limit.
    public let maxAge: Float?
    /// The offer's feature conditions, all of which must hold.
    public let conditions: [Condition]
    /// Bit `channel.ordinal` set when the offer may go through that channel.
    public let channelMask: UInt32
    /// The compiled eligibility rule; nil means none.
    public let eligibility: RuleExpression?
    /// The compiled suitability rule; nil means none.
    public let suitability: RuleExpression?
    /// Validity window in days since 1970 (inclusive).
    public let validFrom: Double
    /// End of the validity window in days since 1970, exclusive (the day after the last valid day; infinity when
    /// open-ended).
    public let validUntil: Double
    /// The consent the offer needs on the channel (marketing or service).
    public let purpose: ConsentPurpose

    /// Whether the offer may go through `channel`.
    @inlinable public func allows(_ channel: Channel) -> Bool { channelMask & (1 << UInt32(channel.ordinal)) != 0 }

    init(
      heldFeature: Int?, product: String, minAge: Float?, maxAge: Float?, conditions: [Condition], channelMask: UInt32,
      eligibility: RuleExpression?, suitability: RuleExpression?, validFrom: Double, validUntil: Double,
      purpose: ConsentPurpose
    ) {
      self.purpose = purpose
      self.heldFeature = heldFeature
      self.product = product
      self.minAge = minAge
      self.maxAge = maxAge
      self.conditions = conditions
      self.channelMask = channelMask
      self.eligibility = eligibility
      self.suitability = suitability
      self.validFrom = validFrom
      self.validUntil = validUntil
    }
  }

  /// Each offer's rules, in catalogue order.
  public let offers: [OfferRules]
  /// The same rules as plain values, for ``check``: a decision walks them without touching a
  /// reference (no reference counting shared between threads).
  @usableFromInline let flat: [FlatRules]
  @usableFromInline let flatConditions: [FlatCondition]
  /// Eligibility and suitability expressions, indexed from ``flat``.
  @usableFromInline let expressions: [RuleExpression]
  /// The index of the age feature (years) in the customer vector.
  public let ageFeature: Int

  /// Compiles the catalogue's rules against a schema; `file` names the catalogue in error messages.
  /// Throws naming the field: `failedPrecondition` for a feature the schema lacks, `invalidArgument` for an unknown
  /// channel, a non-finite condition value, an age band or validity dates that end before they start, a bad date or
  /// a rule that does not compile.
  public init(catalogue: CatalogueDocument, schema: FeatureSchema, file: String = "catalogue.json") throws(ArbiterError)
  {
    func at(_ path: String) -> String { JSONLocator.describe(file: file, path: path) }
    ageFeature = try schema.requireCustomerIndex(catalogue.ageFeature, for: at("ageFeature"))
    var offers: [OfferRules] = []
    for (position, offer) in catalogue.offers.enumerated() {
      let what = "offers[\(position)]"
      let held = try offer.heldFeature.map { name throws(ArbiterError) in
        try schema.requireCustomerIndex(name, for: at("\(what).heldFeature"))
      }
      var conditions: [Condition] = []
      for (c, condition) in offer.conditions.enumerated() {
        let feature = try schema.requireCustomerIndex(condition.feature, for: at("\(what).conditions[\(c)].feature"))
        guard condition.value.isFinite else {
          throw ArbiterError(.invalidArgument, "\(at("\(what).conditions[\(c)].value")): must be finite")
        }
        conditions.append(
          Condition(
            feature: feature, op: condition.op, value: Float(condition.value), description: condition.description))
      }
      if let minAge = offer.minAge, let maxAge = offer.maxAge, minAge > maxAge {
        throw ArbiterError(
          .invalidArgument, "\(at("\(what).minAge")): minAge \(minAge) exceeds maxAge \(maxAge) (offer '\(offer.id)')")
      }
      func rule(_ text: String?, _ field: String) throws(ArbiterError) -> RuleExpression? {
        guard let text else { return nil }
        do {
          return try RuleExpression(text, schema: schema)
        } catch {
          throw ArbiterError(
            .invalidArgument, "\(at("\(what).\(field)")) (offer '\(offer.id)'): \(error.description) in \"\(text)\"")
        }
      }
      func day(_ text: String?, _ field: String, _ otherwise: Double) throws(ArbiterError) -> Double {
        guard let text else { return otherwise }
        guard let days = CatalogueDocument.days(ofDate: text) else {
          throw ArbiterError(.invalidArgument, "\(at("\(what).\(field)")): '\(text)' is not a date (YYYY-MM-DD)")
        }
        return days
      }
      let from = try day(offer.validFrom, "validFrom", -.infinity),
        until = try day(offer.validUntil, "validUntil", .infinity)
      guard from <= until else {
        throw ArbiterError(.invalidArgument, "\(at("\(what).validUntil")): ends before validFrom")
      }
      let mask = offer.channels.reduce(UInt32(0)) { $0 | 1 << UInt32($1.ordinal) }
      offers.append(
        OfferRules(
          heldFeature: held, product: offer.product, minAge: offer.minAge.map(Float.init),
          maxAge: offer.maxAge.map(Float.init),
          conditions: conditions, channelMask: mask, eligibility: try rule(offer.eligibility, "eligibility"),
          suitability: try rule(offer.suitability, "suitability"), validFrom: from, validUntil: until + 1,
          purpose: offer.purpose))
    }
    self.offers = offers
    var flat: [FlatRules] = [], flatConditions: [FlatCondition] = [], expressions: [RuleExpression] = []
    func index(_ rule: RuleExpression?) -> Int32 {
      guard let rule else { return -1 }
      expressions.append(rule)
      return Int32(expressions.count - 1)
    }
    for rules in offers {
      let start = Int32(flatConditions.count)
      flatConditions += rules.conditions.map { FlatCondition(feature: Int32($0.feature), op: $0.op, value: $0.value) }
      flat.append(
        FlatRules(
          validFrom: rules.validFrom, validUntil: rules.validUntil, channelMask: rules.channelMask,
          heldFeature: Int32(rules.heldFeature ?? -1),
          minAge: rules.minAge ?? 0, maxAge: rules.maxAge ?? 0, hasMinAge: rules.minAge != nil,
          hasMaxAge: rules.maxAge != nil,
          conditionStart: start, conditionEnd: Int32(flatConditions.count),
          eligibility: index(rules.eligibility), suitability: index(rules.suitability), purpose: rules.purpose))
    }
    self.flat = flat
    self.flatConditions = flatConditions
    self.expressions = expressions
  }

  /// One offer's rules as plain values.
  @usableFromInline
  struct FlatRules: Sendable {
    @usableFromInline var validFrom: Double
    @usableFromInline var validUntil: Double
    @usableFromInline var channelMask: UInt32
    /// -1 when none.
    @usableFromInline var heldFeature: Int32
    @usableFromInline var minAge: Float
    @usableFromInline var maxAge: Float
    @usableFromInline var hasMinAge: Bool
    @usableFromInline var hasMaxAge: Bool
    /// The offer's conditions: `flatConditions[conditionStart..<conditionEnd]`.
    @usableFromInline var conditionStart: Int32
    @usableFromInline var conditionEnd: Int32
    /// Index into ``expressions``, -1 when none.
    @usableFromInline var eligibility: Int32
    @usableFromInline var suitability: Int32
    @usableFromInline var purpose: ConsentPurpose
  }

  @usableFromInline
  struct FlatCondition: Sendable {
    @usableFromInline var feature: Int32
    @usableFromInline var op: ComparisonOperator
    @usableFromInline var value: Float
  }

  /// The consent offer `index` needs on a channel.
  @inlinable
  public func purpose(of index: Int) -> ConsentPurpose { flat[index].purpose }

  /// Nil when offer `index` may be made to `customer` on `channel` at `nowDays`, else why not.
  /// Rules are checked in a fixed order: validity, channel, consent (for the offer's purpose on
  /// the channel; one never recorded is not given), held product, age, conditions, eligibility
  /// rule, suitability rule.
  @inlinable
  public func check(
    offer index: Int, customer: UnsafeBufferPointer<Float>, context: UnsafeBufferPointer<Float>, channel: Channel,
    consents: ConsentSet,
    nowDays: Double
  ) -> Ineligibility.Code? {
    let rules = flat[index]
    if !(nowDays >= rules.validFrom && nowDays < rules.validUntil) { return .notValidNow }
    if rules.channelMask & (1 << UInt32(channel.ordinal)) == 0 { return .channelNotAllowed }
    if !consents.allows(channel, rules.purpose) { return .noConsent }
    if rules.heldFeature >= 0, customer[Int(rules.heldFeature)] == 1 { return .alreadyHeld }
    let age = customer[ageFeature]
    if rules.hasMinAge, !(age >= rules.minAge) { return .ageRule }
    if rules.hasMaxAge, !(age <= rules.maxAge) { return .ageRule }
    var k = Int(rules.conditionStart)
    while k < Int(rules.conditionEnd) {
      let condition = flatConditions[k]
      if !condition.op.holds(customer[Int(condition.feature)], condition.value) { return .rule }
      k += 1
    }
    if rules.eligibility >= 0, !expressions[Int(rules.eligibility)].holds(customer: customer, context: context) {
      return .rule
    }
    if rules.suitability >= 0, !expressions[Int(rules.suitability)].holds(customer: customer, context: context) {
      return .suitability
    }
    return nil
  }

  /// Nil when offer `index` may be shown to an anonymous visitor on `channel` at `nowDays`, else
  /// why not: only the rules that hold for everyone apply (validity dates, channels), since
  /// there is no customer to check the others against.
  @inlinable
  public func checkAnonymous(offer index: Int, channel: Channel, nowDays: Double) -> Ineligibility.Code? {
    let rules = flat[index]
    if !(nowDays >= rules.validFrom && nowDays < rules.validUntil) { return .notValidNow }
    if rules.channelMask & (1 << UInt32(channel.ordinal)) == 0 { return .channelNotAllowed }
    return nil
  }

  /// The explanation of ``checkAnonymous(offer:channel:nowDays:)``'s answer (allocates).
  public func explainAnonymous(code: Ineligibility.Code, offer index: Int, channel: Channel) -> Ineligibility {
    let rules = offers[index]
    switch code {
    case .notValidNow:
      return Ineligibility(
        code: code,
        detail: "not valid today (valid \(Self.dateText(rules.validFrom)) to \(Self.dateText(rules.validUntil - 1)))")
    default:
      return Ineligibility(code: code, detail: "not offered through \(channel.name)")
    }
  }

  /// Like ``check(offer:customer:context:channel:consents:nowDays:)`` with a human explanation
  /// (for explain mode; allocates).
  public func explain(
    offer index: Int, customer: UnsafeBufferPointer<Float>, context: UnsafeBufferPointer<Float>, channel: Channel,
    consents: ConsentSet,
    nowDays: Double
  ) -> Ineligibility? {
    guard
      let code = check(
        offer: index, customer: customer, context: context, channel: channel, consents: consents,
        nowDays: nowDays)
    else {
      return nil
    }
    let rules = offers[index]
    let age = customer[ageFeature]
    let ageText = age.isNaN ? "unknown" : String(Int(age))
    let detail: String
    switch code {
    case .channelNotAllowed: detail = "not offered through \(channel.name)"
    case .noConsent:
      let purpose = rules.purpose
      let state = consents.state(channel, purpose)
      detail = state == .withdrawn
        ? "\(purpose) consent for \(channel.name) withdrawn" : "no \(purpose) consent recorded for \(channel.name)"
    case .alreadyHeld: detail = "already holds \(rules.product)"
    case .ageRule:
      if let minAge = rules.minAge, !(age >= minAge) {
        detail = "age \(ageText) below minimum \(Int(minAge))"
      } else {
        detail = "age \(ageText) above maximum \(Int(rules.maxAge ?? 0))"
      }
    case .rule:
      if let failed = rules.conditions.first(where: { !$0.op.holds(customer[$0.feature], $0.value) }) {
        detail = failed.description
      } else {
        detail = Self.ruleDetail("eligibility", rules.eligibility, customer, context)
      }
    case .suitability: detail = Self.ruleDetail("suitability", rules.suitability, customer, context)
    case .notValidNow:
      detail = "not valid today (valid \(Self.dateText(rules.validFrom)) to \(Self.dateText(rules.validUntil - 1)))"
    }
    return Ineligibility(code: code, detail: detail)
  }

  /// "eligibility rule `…` is false (unknown: income missing)".
  static func ruleDetail(
    _ kind: String, _ rule: RuleExpression?, _ customer: UnsafeBufferPointer<Float>,
    _ context: UnsafeBufferPointer<Float>
  ) -> String {
    guard let rule else { return "\(kind) rule failed" }
    let value = rule.evaluate(customer: customer, context: context)
    return "\(kind) rule `\(rule.source)` is \(value.isNaN ? "unknown (a value it needs is missing)" : "false")"
  }

  static func dateText(_ days: Double) -> String {
    guard days.isFinite else { return days < 0 ? "always" : "open-ended" }
    let date = Date(timeIntervalSince1970: days * 86_400)
    let formatter = DateFormatter()
    formatter.timeZone = TimeZone(identifier: "UTC")
    formatter.dateFormat = "yyyy-MM-dd"
    return formatter.string(from: date)
  }
}
