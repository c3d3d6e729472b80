import ArbiterCore
import ArbiterModels

/// Generates the demo bank's offer history: a randomised log. For each contact the bank picked a
/// channel at random, skipped customers without consent for it, and picked one of the eligible
/// offers uniformly; the response is drawn from the hidden ground truth.
public struct DemoHistory: Sendable {
  /// The seed of the random draws; the same seed and customers give the same history.
  public let seed: UInt64
  /// How many contacts each customer gets, drawn uniformly from this range (channels without consent are skipped).
  public let contactsPerCustomer: ClosedRange<Int>

  /// A generator for `seed`, with 2 to 8 contacts per customer by default.
  public init(seed: UInt64, contactsPerCustomer: ClosedRange<Int> = 2...8) {
    self.seed = seed
    self.contactsPerCustomer = contactsPerCustomer
  }

  /// Draws the history for `customers`, each record with the probability the offer was chosen with and the true
  /// response.
  /// Throws when the catalogue's rules do not compile against `schema`, an offer has no ground truth, or a ground-truth
  /// term names a feature the schema lacks.
  public func generate(
    customers: [CustomerRecord], catalogue: CatalogueDocument, truth: GroundTruth, schema: FeatureSchema
  ) throws(ArbiterError) -> [HistoryRecord] {
    let rules = try EligibilityRules(catalogue: catalogue, schema: schema)
    let evaluator = try GroundTruth.Evaluator(truth: truth, schema: schema)
    let truthIndex = Dictionary(uniqueKeysWithValues: truth.offers.enumerated().map { ($1.offerId, $0) })
    let offerToTruth = try catalogue.offers.map { offer throws(ArbiterError) -> Int in
      guard let index = truthIndex[offer.id] else {
        throw ArbiterError(.internalError, "no ground truth for offer '\(offer.id)'")
      }
      return index
    }
    var rng = SeededGenerator(seed: SeededGenerator.mix(seed, salt: 0x4157))
    var records: [HistoryRecord] = []
    var eligible: [Int] = []
    for customer in customers {
      let contacts = contactsPerCustomer.lowerBound + rng.below(contactsPerCustomer.count)
      customer.values.withUnsafeBufferPointer { vector in
        let consents = DemoBankSchema.consents(of: vector, schema: schema)
        for _ in 0..<contacts {
          let channel = Channel.allCases[rng.below(Channel.allCases.count)]
          // The seeds' bank contacted only customers open to marketing on the channel.
          guard consents.allows(channel, .marketing) else { continue }
          eligible.removeAll(keepingCapacity: true)
          // The channel is the one context feature the history knows; offers have no validity window here.
          let context = schema.contextFeatures.map { $0.name == "channel" ? Float(channel.ordinal) : Float.nan }
          context.withUnsafeBufferPointer { context in
            for offer in catalogue.offers.indices
            where rules.check(
              offer: offer, customer: vector, context: context, channel: channel, consents: consents, nowDays: 0) == nil
            {
              eligible.append(offer)
            }
          }
          guard !eligible.isEmpty else { continue }
          let offer = eligible[rng.below(eligible.count)]
          let p = evaluator.probability(offer: offerToTruth[offer], customer: vector, channel: channel)
          records.append(
            HistoryRecord(
              customerId: customer.id, offerId: catalogue.offers[offer].id, channel: channel,
              probability: 1 / Double(Channel.allCases.count) / Double(eligible.count), accepted: rng.chance(p)))
        }
      }
    }
    return records
  }
}
