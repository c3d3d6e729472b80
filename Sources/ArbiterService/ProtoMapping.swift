import ArbiterAPI
import ArbiterCore
import ArbiterDecisioning

extension Channel {
  /// The domain channel for a wire channel; throws INVALID_ARGUMENT naming `field` otherwise.
  public init(proto: Arbiter_V1_Channel, field: String = "channel") throws(ArbiterError) {
    switch proto {
    case .unspecified: throw ArbiterError(.invalidArgument, "\(field) is required")
    case .UNRECOGNIZED(let value): throw ArbiterError(.invalidArgument, "\(field): unknown channel \(value)")
    default:
      guard let channel = Channel(rawValue: proto.rawValue) else {
        throw ArbiterError(.invalidArgument, "\(field): unknown channel \(proto.rawValue)")
      }
      self = channel
    }
  }

  /// The wire channel.
  public var proto: Arbiter_V1_Channel { Arbiter_V1_Channel(rawValue: rawValue) ?? .unspecified }
}

extension OutcomeKind {
  init(proto: Arbiter_V1_Outcome, field: String) throws(ArbiterError) {
    switch proto {
    case .impression: self = .impression
    case .click: self = .click
    case .accept: self = .accept
    case .decline: self = .decline
    case .convert: self = .convert
    case .unspecified: throw ArbiterError(.invalidArgument, "\(field) is required")
    case .UNRECOGNIZED(let value): throw ArbiterError(.invalidArgument, "\(field): unknown outcome \(value)")
    }
  }

  var proto: Arbiter_V1_Outcome {
    switch self {
    case .impression: .impression
    case .click: .click
    case .accept: .accept
    case .decline: .decline
    case .convert: .convert
    }
  }
}

extension VersionStamp {
  package var proto: Arbiter_V1_VersionInfo {
    .with {
      $0.bundleName = bundleName
      $0.bundleVersion = bundleVersion
      $0.catalogueVersion = catalogueVersion
      $0.schemaHash = schemaHash
    }
  }
}

extension RankedOffer {
  var proto: Arbiter_V1_RankedOffer {
    .with {
      $0.offerID = offerId
      $0.name = name
      $0.offerIndex = UInt32(offerIndex)
      $0.product = product
      $0.propensity = propensity
      $0.value = value
      $0.score = score
      $0.rank = UInt32(rank)
      $0.contextWeight = contextWeight
      $0.lever = lever
      $0.channelCost = channelCost
      $0.shadowPrice = shadowPrice
      $0.probability = probability
      $0.category = category
      $0.treatment = treatment.proto
      $0.reasons = reasons.map { reason in
        .with {
          $0.code = reason.code
          $0.feature = reason.feature
          $0.contribution = reason.contribution
          $0.phrase = reason.phrase
        }
      }
    }
  }
}

extension Decision {
  /// The decision as the generated `arbiter.v1.DecideResponse`.
  package var proto: Arbiter_V1_DecideResponse {
    .with {
      $0.decisionID = decisionId
      $0.requestID = requestId
      $0.customerID = customerId
      $0.channel = channel.proto
      $0.versions = versions.proto
      $0.offers = offers.map(\.proto)
      $0.suppressed = suppressed.map { suppression in
        .with {
          $0.offerID = suppression.offerId
          $0.code = suppression.code.rawValue
          $0.detail = suppression.detail
          $0.propensity = suppression.propensity ?? 0
          $0.score = suppression.score ?? 0
        }
      }
      $0.decisionNanos = nanos
      $0.controls = controls.map { held in
        .with {
          $0.offerID = held.offerId
          $0.propensity = held.propensity
          $0.score = held.priority
        }
      }
      $0.exploration = exploration
      $0.fallback = fallback
    }
  }
}

extension RenderedTreatment {
  var proto: Arbiter_V1_Treatment {
    .with {
      $0.title = title
      $0.message = message
      $0.agentScript = agentScript
    }
  }
}

extension Arbiter_V1_InteractionContext {
  /// Checks the free-text context fields are of sane size.
  func validated() throws(ArbiterError) -> Arbiter_V1_InteractionContext {
    for (name, value) in [("context.call_reason", callReason), ("context.page", page), ("context.device", device)]
    where value.unicodeScalars.count > 256 {
      throw ArbiterError(.invalidArgument, "\(name) is longer than 256 characters")
    }
    for (i, value) in features.enumerated() where value.isInfinite {
      throw ArbiterError(.invalidArgument, "context.features[\(i)] is infinite")
    }
    return self
  }
}

extension OutcomeReport {
  /// The domain outcome for a wire one (`field` names it, e.g. `outcomes[3]`): ids required, a
  /// known outcome, a finite value, a bounded decline reason, and a time no further ahead of the
  /// server clock (`now`) than `maxSkewMillis`. Throws INVALID_ARGUMENT naming the wire field.
  init(proto: Arbiter_V1_OutcomeEvent, field: String, now: Int64, maxSkewMillis: Int64) throws(ArbiterError) {
    guard !proto.decisionID.isEmpty else { throw ArbiterError(.invalidArgument, "\(field).decision_id is required") }
    guard !proto.offerID.isEmpty else { throw ArbiterError(.invalidArgument, "\(field).offer_id is required") }
    let outcome = try OutcomeKind(proto: proto.outcome, field: "\(field).outcome")
    if proto.hasValue, !proto.value.isFinite { throw ArbiterError(.invalidArgument, "\(field).value must be finite") }
    let reasonLength = proto.declineReason.unicodeScalars.count
    guard reasonLength <= InteractionLog.maxDeclineReasonCharacters else {
      throw ArbiterError(
        .invalidArgument,
        "\(field).decline_reason is \(reasonLength) characters, at most \(InteractionLog.maxDeclineReasonCharacters)")
    }
    guard proto.timestampMillis >= 0 else {
      throw ArbiterError(.invalidArgument, "\(field).timestamp_millis is negative")
    }
    guard proto.timestampMillis <= now &+ maxSkewMillis else {
      throw ArbiterError(
        .invalidArgument,
        "\(field).timestamp_millis \(proto.timestampMillis) is ahead of the server clock (\(now)) "
          + "by more than \(maxSkewMillis) ms"
      )
    }
    self.init(
      decisionId: proto.decisionID, offerId: proto.offerID, outcome: outcome, value: proto.hasValue ? proto.value : nil,
      declineReason: proto.declineReason, timestampMillis: proto.timestampMillis)
  }
}

extension DecisionRequest {
  /// The domain request of a Decide: a customer (required), a channel, the context, how many
  /// offers (0: the default, at most ``DecisionEngine/maxOffersLimit``). Throws INVALID_ARGUMENT
  /// naming the wire field.
  package init(proto: Arbiter_V1_DecideRequest) throws(ArbiterError) {
    guard proto.customerID != 0 else { throw ArbiterError(.invalidArgument, "customer_id is required") }
    try self.init(
      customerId: proto.customerID, channel: proto.channel, context: proto.context, maxOffers: proto.maxOffers,
      explain: proto.explain, requestId: proto.requestID)
  }

  /// The domain request of a Personalize: a known customer, or an anonymous visitor (customer
  /// id 0); the slots are mapped apart (``SlotRequest/slots(proto:)``).
  init(proto: Arbiter_V1_PersonalizeRequest) throws(ArbiterError) {
    try self.init(
      customerId: proto.customerID, channel: proto.channel, context: proto.context, maxOffers: 0,
      explain: proto.explain,
      requestId: proto.requestID)
    // Printable ASCII first, so that its length in bytes is its length in characters.
    guard proto.visitorID.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
      throw ArbiterError(.invalidArgument, "visitor_id must be printable ASCII without spaces")
    }
    guard proto.visitorID.utf8.count <= 64 else {
      throw ArbiterError(.invalidArgument, "visitor_id is longer than 64 characters")
    }
    visitorId = proto.visitorID
  }

  private init(
    customerId: UInt64, channel: Arbiter_V1_Channel, context: Arbiter_V1_InteractionContext, maxOffers: UInt32,
    explain: Bool, requestId: String
  ) throws(ArbiterError) {
    guard requestId.unicodeScalars.count <= 128 else {
      throw ArbiterError(.invalidArgument, "request_id is longer than 128 characters")
    }
    guard maxOffers <= DecisionEngine.maxOffersLimit else {
      throw ArbiterError(
        .invalidArgument, "max_offers must be between 1 and \(DecisionEngine.maxOffersLimit), got \(maxOffers)")
    }
    let context = try context.validated()
    self.init(
      customerId: customerId, channel: try Channel(proto: channel), callReason: context.callReason, page: context.page,
      contextFeatures: context.features, maxOffers: maxOffers == 0 ? DecisionEngine.defaultMaxOffers : Int(maxOffers),
      explain: explain, requestId: requestId, anonymous: customerId == 0)
  }
}

extension SlotRequest {
  /// A page's slot (`slots[index]` on the wire): a name, the content type (an offer category; empty
  /// takes any) and how many items (0 means 1). Throws INVALID_ARGUMENT naming the field.
  init(proto: Arbiter_V1_Slot, index: Int) throws(ArbiterError) {
    guard !proto.name.isEmpty else { throw ArbiterError(.invalidArgument, "slots[\(index)].name is required") }
    for (field, text) in [("name", proto.name), ("content_type", proto.contentType)]
    where text.unicodeScalars.count > 128 {
      throw ArbiterError(.invalidArgument, "slots[\(index)].\(field) is longer than 128 characters")
    }
    guard proto.count <= UInt32(LiveState.maxSlotItems) else {
      throw ArbiterError(
        .invalidArgument, "slots[\(index)].count must be at most \(LiveState.maxSlotItems), got \(proto.count)")
    }
    self.init(name: proto.name, contentType: proto.contentType, count: proto.count == 0 ? 1 : Int(proto.count))
  }

  /// A page's slots: at least one, each name once.
  static func slots(proto: [Arbiter_V1_Slot]) throws(ArbiterError) -> [SlotRequest] {
    guard !proto.isEmpty else { throw ArbiterError(.invalidArgument, "slots: at least one slot is required") }
    var names = Set<String>()
    var slots: [SlotRequest] = []
    for (i, slot) in proto.enumerated() {
      let mapped = try SlotRequest(proto: slot, index: i)
      guard names.insert(mapped.name).inserted else {
        throw ArbiterError(.invalidArgument, "slots[\(i)].name '\(mapped.name)' appears twice")
      }
      slots.append(mapped)
    }
    let total = slots.reduce(0) { $0 + $1.count }
    guard total <= LiveState.maxSlotItems else {
      throw ArbiterError(.invalidArgument, "slots ask for \(total) items, at most \(LiveState.maxSlotItems)")
    }
    return slots
  }
}
