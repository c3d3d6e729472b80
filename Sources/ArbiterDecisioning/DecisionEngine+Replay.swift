import ArbiterCore
import ArbiterModels

extension DecisionEngine {
  /// A catalogue as a replay decides with it: the choice among eligible offers by its models and
  /// arbitration, without the control group, quotas, capacity, pacing or contact policy, which
  /// depend on the live traffic rather than on the decision being replayed.
  public static func replayCatalogue(_ loaded: CatalogueDocument) -> CatalogueDocument {
    var catalogue = loaded
    catalogue.arbitration.pacing = false
    catalogue.controlGroup = nil
    catalogue.contactPolicy = ContactPolicy()
    for i in catalogue.offers.indices { catalogue.offers[i].quota = nil }
    catalogue.capacity = []
    return catalogue
  }

  /// What this engine's policy would put first for a logged decision.
  public struct ReplayedChoice: Sendable, Hashable {
    /// The offer.
    public var offerId: String
    /// The probability the engine's exploration method would draw it first.
    public var probability: Double
    /// The model's propensity for it.
    public var propensity: Double
    /// Its value in the catalogue's currency.
    public var value: Double
  }

  /// Decides again for a logged decision, for off-policy evaluation: with the features it logged
  /// (the customer's then the context's, exactly as the models saw them; not the store's), at its
  /// time, on its channel, with every consent given and no contact history; returns the offers
  /// that could come first with the probability the catalogue's exploration method gives each
  /// (one offer with probability 1 for a greedy catalogue). Quotas are not reserved. Returns
  /// nothing when the features are not of the engine's schema.
  public func replayFirstChoices(
    customerId: UInt64, channel: Channel, features: [Float], atMillis: Int64
  ) -> [ReplayedChoice] {
    guard features.count == schema.width + schema.contextFeatures.count else { return [] }
    let request = DecisionRequest(customerId: max(customerId, 1), channel: channel, maxOffers: 1)
    var state = beginDecision(
      request, decisionId: "replay", contacts: [], slots: nil, started: 0, now: Double(atMillis) / 86_400_000)
    var consents = ConsentSet.none
    for purpose in ConsentPurpose.allCases { consents.set(.given, channel, purpose) }
    let split = schema.width
    return features.withUnsafeBufferPointer { all in
      let customer = UnsafeBufferPointer(rebasing: all[0..<split])
      let context = UnsafeBufferPointer(rebasing: all[split...])
      return ScoringRow.prepare(layout: catalogue.scoringLayout, customer: customer, context: context) { row in
        withAdaptiveInputs(customer: customer) { adaptive in
          var inputs = DecisionInputs(consents: consents, customer: customer, context: context, row: row)
          inputs.adaptive = adaptive
          collectCandidates(&state, inputs)
        }
        let candidates = state.candidates
        var probabilities = OfferSelector.firstDrawProbabilities(
          policy: catalogue.exploration, priorities: candidates.map(\.priority))
        // Thompson sampling: how often each comes first in fresh samples.
        if let thompson = state.thompson, let draws = catalogue.adaptive?.policy.probabilityDraws {
          var random = SeededGenerator(seed: OfferSelector.thompsonSeed(decisionId: "replay") ^ 0x9e37)
          let counts = thompson.firstCounts(of: candidates.map(\.offer), draws: draws, random: &random)
          probabilities = counts.map { Double($0) / Double(draws) }
        }
        return zip(candidates, probabilities).compactMap { candidate, probability in
          guard probability > 0 else { return nil }
          let offer = catalogue.offers[candidate.offer].definition
          return ReplayedChoice(
            offerId: offer.id, probability: probability, propensity: candidate.propensity, value: offer.value)
        }
      }
    }
  }

  /// The offers that pass eligibility for a request (channel, consent, products held, age,
  /// conditions, validity), as the catalogue's ids: what any policy could choose from, before
  /// the contact policy, limits and scoring.
  public func eligibleOffers(_ request: DecisionRequest) throws(ArbiterError) -> [String] {
    let row = try validate(request)
    let context = contextValues(for: request)
    let consents = row.map { customers.consents(row: $0) } ?? .none
    let profiled = row != nil && consents.allows(request.channel, .profiling)
    let now = clock()
    return withCustomer(profiled ? row : nil) { customer in
      context.withUnsafeBufferPointer { c in
        catalogue.offers.compactMap { offer in
          catalogue.rules.check(
            offer: offer.index, customer: customer, context: c, channel: request.channel, consents: consents,
            nowDays: now) == nil ? offer.definition.id : nil
        }
      }
    }
  }
}
