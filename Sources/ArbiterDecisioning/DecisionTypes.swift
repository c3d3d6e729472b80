import ArbiterCore

/// What the caller asks for: one customer, one channel, the moment's context.
public struct DecisionRequest: Sendable {
  /// The customer to decide for; 0 is an anonymous visitor.
  public var customerId: UInt64
  /// The channel of the interaction.
  public var channel: Channel
  /// Why the customer called or came in (e.g. "travel"); weighs offers with a "reason:<call reason>" context weight;
  /// empty for none.
  public var callReason: String
  /// The page the customer is on (e.g. "cards"); weighs offers with a "page:<page>" context weight; empty for none.
  public var page: String
  /// Context feature values beyond the channel, in schema order.
  public var contextFeatures: [Double]
  /// How many offers to return (1…``DecisionEngine/maxOffersLimit``).
  public var maxOffers: Int
  /// Whether to explain the decision: report every candidate not shown and why, in ``Decision/suppressed``.
  public var explain: Bool
  /// The caller's own id for the request, echoed in the decision; empty for none.
  public var requestId: String
  /// An unknown visitor (customer id 0): decided from channel and context alone, with no
  /// customer-specific rules and the model's average customer.
  public var anonymous: Bool
  /// An anonymous visitor's first-party id, logged with the decision; empty for none.
  public var visitorId = ""
  /// When the decision must be made by, in `DispatchTime` uptime nanoseconds (the caller's
  /// deadline less what answering takes); `.max` for none. Past it, the decision answers with
  /// the catalogue's fallback offers (``Decision/fallback``).
  public var deadline = UInt64.max

  /// Creates a request; by default three offers, no context, no explanation, a known customer.
  public init(
    customerId: UInt64, channel: Channel, callReason: String = "", page: String = "", contextFeatures: [Double] = [],
    maxOffers: Int = DecisionEngine.defaultMaxOffers, explain: Bool = false, requestId: String = "",
    anonymous: Bool = false
  ) {
    self.anonymous = anonymous
    self.customerId = customerId
    self.channel = channel
    self.callReason = callReason
    self.page = page
    self.contextFeatures = contextFeatures
    self.maxOffers = maxOffers
    self.explain = explain
    self.requestId = requestId
  }
}

/// The models and catalogue that made a decision. A class: every decision carries it, and one
/// reference is cheaper to pass around than four strings.
public final class VersionStamp: Sendable, Hashable {
  /// The name of the bundle that made the decision.
  public let bundleName: String
  /// The version of the bundle.
  public let bundleVersion: String
  /// The version of the bundle's catalogue.
  public let catalogueVersion: String
  /// The SHA-256 (hex) of the bundle's `schema.json`: the feature schema its models were built for.
  public let schemaHash: String

  /// Creates a stamp from the bundle's name and version, the catalogue's version and the schema's hash.
  public init(bundleName: String, bundleVersion: String, catalogueVersion: String, schemaHash: String) {
    self.bundleName = bundleName
    self.bundleVersion = bundleVersion
    self.catalogueVersion = catalogueVersion
    self.schemaHash = schemaHash
  }

  /// Whether two stamps name the same bundle, catalogue and schema.
  public static func == (a: VersionStamp, b: VersionStamp) -> Bool {
    a.bundleName == b.bundleName && a.bundleVersion == b.bundleVersion && a.catalogueVersion == b.catalogueVersion
      && a.schemaHash == b.schemaHash
  }

  /// Hashes all four names.
  public func hash(into hasher: inout Hasher) {
    hasher.combine(bundleName)
    hasher.combine(bundleVersion)
    hasher.combine(catalogueVersion)
    hasher.combine(schemaHash)
  }
}

/// One factor behind an offer's score.
public struct ReasonCode: Sendable, Hashable {
  /// What kind of factor it is: "FEATURE_POSITIVE", "FEATURE_NEGATIVE", "CONTEXT_WEIGHT", or
  /// "SLA_FALLBACK" for a fallback offer (the decision ran out of time).
  public var code: String
  /// The feature behind it, or for a context weight the context keys (e.g. "reason:travel").
  public var feature: String
  /// For a feature, its contribution to the model's log-odds; for a context weight, the multiplier.
  public var contribution: Double
  /// What the factor means in words, for an agent to say.
  public var phrase: String
}

/// An offer as presented: filled-in text for the channel.
public struct RenderedTreatment: Sendable, Hashable {
  /// The offer's headline, filled in for the customer.
  public var title: String
  /// The offer's body text, filled in for the customer.
  public var message: String
  /// What the agent says, on assisted channels; empty on others.
  public var agentScript: String
}

/// One offer chosen for the customer.
public struct RankedOffer: Sendable {
  /// 1-based position in the decision's answer.
  public var rank: Int
  /// The offer's index in the compiled catalogue.
  public var offerIndex: Int
  /// The offer's id in the catalogue.
  public var offerId: String
  /// The offer's display name.
  public var name: String
  /// The product the offer sells.
  public var product: String
  /// The model's probability, in [0, 1], that the customer accepts the offer.
  public var propensity: Double
  /// The margin to the bank if accepted, in the catalogue's currency.
  public var value: Double
  /// The multiplier from the interaction's call reason or page (1 when neither weighs the offer).
  public var contextWeight: Double
  /// The arbitration priority the offer was ranked by, in the catalogue's currency.
  public var score: Double
  /// The offer's text for the channel, filled in for the customer.
  public var treatment: RenderedTreatment
  /// Up to three factors that raised the propensity most (or the one that lowered it most when none raised it), then
  /// the context weight's factor when the weight is not 1.
  public var reasons: [ReasonCode]
  /// The other arbitration factors: score = propensity × value × context weight × lever −
  /// channel cost − shadow price.
  public var lever: Double = 1
  /// The contact cost subtracted from the score, in the catalogue's currency (0 when none is subtracted).
  public var channelCost: Double = 0
  /// The shadow price of quota and capacity subtracted from the score, in the catalogue's currency (0 when on pace).
  public var shadowPrice: Double = 0
  /// The probability with which this offer was drawn at its position (1 when greedy).
  public var probability: Double = 1
  /// The offer's category.
  public var category: String = ""
  /// For a page: the slot and 1-based position it was placed in.
  public var slot: String = ""
  /// The 1-based position in its slot (0 outside a page).
  public var slotPosition: Int = 0
  /// On uplift arbitration: the control model's probability of a response without the offer
  /// (the score used the propensity less this); nil otherwise.
  public var controlPropensity: Double? = nil
  /// With adaptive models: the offline model's log-odds the adaptive model refined (its input,
  /// kept so that the outcome is learnt with what the decision saw); nil otherwise.
  public var offlineLogOdds: Double? = nil
}

/// An offer a control-group customer would have been considered for, held out and logged so
/// that lift can be measured.
public struct ControlHoldout: Sendable, Hashable {
  /// The offer the customer was held out of.
  public var offerId: String
  /// The model's probability that the customer would have accepted it.
  public var propensity: Double
  /// The arbitration priority it would have had, in the catalogue's currency.
  public var priority: Double
}

/// Why a candidate was not made (explain mode).
public struct Suppression: Sendable, Hashable {
  /// Why a candidate offer was not made.
  public enum Code: String, Sendable {
    /// The offer is not made through the decision's channel.
    case channelNotAllowed = "CHANNEL_NOT_ALLOWED"
    /// The channel needs marketing consent and the customer has not given it.
    case noConsent = "NO_CONSENT"
    /// The customer already holds the offer's product.
    case alreadyHeld = "ALREADY_HELD"
    /// The customer's age is outside the offer's age band (or unknown).
    case ageRule = "AGE_RULE"
    /// A feature condition or the eligibility rule is not met.
    case rule = "RULE"
    /// The offer was eligible but ranked below those shown.
    case rankedBelow = "RANKED_BELOW"
    /// The suitability rule is not met.
    case suitability = "SUITABILITY"
    /// The decision's time is outside the offer's validity dates.
    case notValidNow = "NOT_VALID_NOW"
    /// The contact policy blocks it: a frequency cap, the weekly limit, a repeat or a decline cool-down.
    case contactPolicy = "CONTACT_POLICY"
    /// The customer is in the control group of the offer's group this period.
    case controlGroup = "CONTROL_GROUP"
    /// The offer's quota is used up.
    case budget = "BUDGET"
    /// The channel's capacity is used up.
    case capacity = "CAPACITY"
    /// The channel that fulfils the offer (the contact centre, for a call-back) is closed now.
    case closed = "CLOSED"
    /// Its expected value does not cover the contact cost and shadow price (priority not above 0).
    case belowCost = "BELOW_COST"

    init(_ code: Ineligibility.Code) {
      switch code {
      case .channelNotAllowed: self = .channelNotAllowed
      case .noConsent: self = .noConsent
      case .alreadyHeld: self = .alreadyHeld
      case .ageRule: self = .ageRule
      case .rule: self = .rule
      case .suitability: self = .suitability
      case .notValidNow: self = .notValidNow
      }
    }
  }
  /// The offer not made.
  public var offerId: String
  /// Which rule or limit stopped it.
  public var code: Code
  /// A human explanation, e.g. "quota used up".
  public var detail: String
  /// The model's propensity, when the offer got as far as being scored; nil otherwise.
  public var propensity: Double?
  /// The arbitration priority, when the offer got as far as being scored; nil otherwise.
  public var score: Double?
}

/// The result of ``DecisionEngine/decide(_:)``.
public struct Decision: Sendable {
  /// The decision's id, which outcomes name it by.
  public var decisionId: String
  /// The request's caller-supplied id, echoed back (empty when none was given).
  public var requestId: String
  /// The customer decided for (0 for an anonymous visitor).
  public var customerId: UInt64
  /// The channel of the interaction.
  public var channel: Channel
  /// The bundle, catalogue and schema versions that made the decision.
  public var versions: VersionStamp
  /// The offers chosen, best first; empty when none is made.
  public var offers: [RankedOffer]
  /// Candidates not made and why; filled only in explain mode.
  public var suppressed: [Suppression]
  /// How long the decision took, in nanoseconds.
  public var nanos: UInt64
  /// When the decision was made, in milliseconds since the Unix epoch.
  public var timestampMillis: Int64
  /// Offers held out because the customer is in their control group.
  public var controls: [ControlHoldout] = []
  /// The exploration method that drew the offers.
  public var exploration: String = "greedy"
  /// For Thompson sampling: the resamples each shown offer's probability was estimated from (0 otherwise).
  public var probabilityDraws = 0
  /// How many offers were not made, by reason (counted whether or not the decision explains).
  public var suppressionTally = SuppressionTally()
  /// The anonymous visitor's first-party id the request gave; empty for none.
  public var visitorId = ""
  /// Whether the decision ran out of time (its budget, ``DecisionRequest/deadline``) and
  /// answered with the catalogue's fallback offers, unscored.
  public var fallback = false
  /// What the models saw: the customer's vector as read for the decision (all NaN without
  /// profiling consent or for a visitor), then the context vector. Logged exactly, so that
  /// outcomes can be joined with the features at decision time (`train --from-log`).
  public var features: [Float] = []
}
