import ArbiterCore

/// What the caller asks for: one customer, one channel, the moment's context.
public struct DecisionRequest: Sendable {
  public var customerId: UInt64
  public var channel: Channel
  public var callReason: String
  public var page: String
  /// Context feature values beyond the channel, in schema order.
  public var contextFeatures: [Double]
  /// How many offers to return (1…``DecisionEngine/maxOffersLimit``).
  public var maxOffers: Int
  public var explain: Bool
  public var requestId: String
  /// An unknown visitor (customer id 0): decided from channel and context alone, with no
  /// customer-specific rules and the model's average customer.
  public var anonymous: Bool

  public init(
    customerId: UInt64, channel: Channel, callReason: String = "", page: String = "", contextFeatures: [Double] = [],
    maxOffers: Int = DecisionEngine.defaultMaxOffers, explain: Bool = false, requestId: String = "", anonymous: Bool = false
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
  public let bundleName: String
  public let bundleVersion: String
  public let catalogueVersion: String
  public let schemaHash: String

  public init(bundleName: String, bundleVersion: String, catalogueVersion: String, schemaHash: String) {
    self.bundleName = bundleName
    self.bundleVersion = bundleVersion
    self.catalogueVersion = catalogueVersion
    self.schemaHash = schemaHash
  }

  public static func == (a: VersionStamp, b: VersionStamp) -> Bool {
    a.bundleName == b.bundleName && a.bundleVersion == b.bundleVersion && a.catalogueVersion == b.catalogueVersion && a.schemaHash == b.schemaHash
  }

  public func hash(into hasher: inout Hasher) {
    hasher.combine(bundleName)
    hasher.combine(bundleVersion)
    hasher.combine(catalogueVersion)
    hasher.combine(schemaHash)
  }
}

/// One factor behind an offer's score.
public struct ReasonCode: Sendable, Hashable {
  public var code: String
  public var feature: String
  public var contribution: Double
  public var phrase: String
}

/// An offer as presented: filled-in text for the channel.
public struct RenderedTreatment: Sendable, Hashable {
  public var title: String
  public var message: String
  public var agentScript: String
}

/// One offer chosen for the customer.
public struct RankedOffer: Sendable {
  public var rank: Int
  public var offerIndex: Int
  public var offerId: String
  public var name: String
  public var product: String
  public var propensity: Double
  public var value: Double
  public var contextWeight: Double
  public var score: Double
  public var treatment: RenderedTreatment
  public var reasons: [ReasonCode]
  /// The other arbitration factors: score = propensity × value × context weight × lever −
  /// channel cost − shadow price.
  public var lever: Double = 1
  public var channelCost: Double = 0
  public var shadowPrice: Double = 0
  /// The probability with which this offer was drawn at its position (1 when greedy).
  public var probability: Double = 1
  public var category: String = ""
  /// For a page: the slot and 1-based position it was placed in.
  public var slot: String = ""
  public var slotPosition: Int = 0
}

/// An offer a control-group customer would have been considered for, held out and logged so
/// that lift can be measured.
public struct ControlHoldout: Sendable, Hashable {
  public var offerId: String
  public var propensity: Double
  public var priority: Double
}

/// Why a candidate was not made (explain mode).
public struct Suppression: Sendable, Hashable {
  public enum Code: String, Sendable {
    case channelNotAllowed = "CHANNEL_NOT_ALLOWED"
    case noConsent = "NO_CONSENT"
    case alreadyHeld = "ALREADY_HELD"
    case ageRule = "AGE_RULE"
    case rule = "RULE"
    case rankedBelow = "RANKED_BELOW"
    case suitability = "SUITABILITY"
    case notValidNow = "NOT_VALID_NOW"
    case contactPolicy = "CONTACT_POLICY"
    case controlGroup = "CONTROL_GROUP"
    case budget = "BUDGET"
    case capacity = "CAPACITY"
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
  public var offerId: String
  public var code: Code
  public var detail: String
  public var propensity: Double?
  public var score: Double?
}

/// The result of ``DecisionEngine/decide(_:)``.
public struct Decision: Sendable {
  public var decisionId: String
  public var requestId: String
  public var customerId: UInt64
  public var channel: Channel
  public var versions: VersionStamp
  public var offers: [RankedOffer]
  public var suppressed: [Suppression]
  public var nanos: UInt64
  public var timestampMillis: Int64
  /// Offers held out because the customer is in their control group.
  public var controls: [ControlHoldout] = []
  /// The exploration method that drew the offers.
  public var exploration: String = "greedy"
}
