import ArbiterCore
import ArbiterDecisioning
import ArbiterDemoBank
import ArbiterFeatureStore
import ArbiterModels
import ArgumentParser
import Foundation

/// `simulate --drift`: decision quality in a world that changes. A third of the way in, a new
/// offer arrives (no trained model; the truth makes it attractive); two thirds of the way in, the
/// true propensity of the offer the static model makes most often halves. Three policies play the
/// same interactions: the static trained bundle, the same bundle with adaptive models and
/// Thompson sampling (learning from each outcome, drawn from the truth), and the oracle.
struct DriftSimulation {
  /// Value per 1,000 decisions of each policy over one stretch of interactions.
  struct Window {
    var start = 0
    var interactions = 0
    var staticValue = 0.0, adaptiveValue = 0.0, oracleValue = 0.0
  }

  let simulation: Simulation
  let truth: GroundTruth.Evaluator
  /// The truth's offers: the catalogue's, then the new one.
  let truthIndex: [String: Int]
  let adaptiveBefore: DecisionEngine
  let adaptiveAfter: DecisionEngine
  let newOffer: OfferDefinition
  let halvedOffer: String

  static let newOfferId = "new-offer"

  /// The engines: the adaptive one before and after the new offer arrives (one table of models).
  init(
    loaded: ModelBundle, population: PopulationSpec, catalogue: CatalogueDocument, store: FeatureStore, clock: Double,
    halvedOffer: String, policy: AdaptivePolicy, lookalike: Bool
  ) throws {
    simulation = try Simulation(
      loaded: loaded, population: population, catalogue: catalogue, store: store, clock: clock)
    // The new offer: a copy of the most valuable offer's definition and truth, more attractive.
    let template = catalogue.offers.max { $0.value < $1.value }!
    var offer = template
    offer.id = Self.newOfferId
    offer.name = "New " + template.name
    offer.adaptivePriorFrom = lookalike ? template.id : nil
    newOffer = offer
    var groundTruth = DemoBankCatalogue.groundTruth
    var newTruth = groundTruth.offers.first { $0.offerId == template.id }!
    newTruth.offerId = Self.newOfferId
    newTruth.intercept += 0.8
    groundTruth.offers.append(newTruth)
    truth = try failing { try GroundTruth.Evaluator(truth: groundTruth, schema: loaded.schema) }
    truthIndex = Dictionary(uniqueKeysWithValues: groundTruth.offers.enumerated().map { ($1.offerId, $0) })
    self.halvedOffer = halvedOffer

    var adaptive = catalogue
    adaptive.adaptive = policy
    adaptive.exploration = ExplorationPolicy(method: .thompson)
    var withNew = adaptive
    withNew.offers.append(offer)
    let day = clock
    func bundle(_ catalogue: CatalogueDocument) throws -> ModelBundle {
      try failing {
        try ModelBundle(
          name: loaded.manifest.name, version: loaded.manifest.version, createdBy: "simulate", schema: loaded.schema,
          catalogue: catalogue, models: loaded.models, population: population)
      }
    }
    let before = try failing { try DecisionEngine(bundle: try bundle(adaptive), customers: store, clock: { day }) }
    adaptiveBefore = before
    adaptiveAfter = try failing {
      try DecisionEngine(
        bundle: try bundle(withNew), customers: store, clock: { day }, adaptive: before.catalogue.adaptive!.models)
    }
  }

  /// Plays; returns the windows of `window` interactions.
  func play(interactions: Int, window: Int, seed: UInt64) throws -> [Window] {
    var rng = SeededGenerator(seed: seed)
    var outcomes = SeededGenerator(seed: seed ^ 0x0c0e)
    let inbound: [Channel] = [.web, .mobileApp, .contactCentre, .branch]
    let store = simulation.store, schema = simulation.schema, clock = simulation.clock
    let ids = store.customerIds()
    var buffer = [Float](repeating: 0, count: schema.width)
    var windows: [Window] = []
    var current = Window()
    let arrival = interactions / 3, halving = 2 * interactions / 3
    let values = Dictionary(
      uniqueKeysWithValues: (simulation.offers.map(\.definition) + [newOffer]).map { ($0.id, $0.value) })
    for k in 0..<interactions {
      if k > 0 && k % window == 0 {
        windows.append(current)
        current = Window(start: k)
      }
      let id = ids[Int(rng.next() % UInt64(ids.count))]
      let channel = inbound[Int(rng.next() % UInt64(inbound.count))]
      let row = store.row(of: id)!
      buffer.withUnsafeMutableBufferPointer { store.read(row: row, into: $0, nowDays: clock) }
      func truthOf(_ offerId: String) -> Double {
        let p = buffer.withUnsafeBufferPointer {
          truth.probability(offer: truthIndex[offerId]!, customer: $0, channel: channel)
        }
        return k >= halving && offerId == halvedOffer ? p / 2 : p
      }
      let request = DecisionRequest(customerId: id, channel: channel, maxOffers: 1)
      let adaptive = k >= arrival ? adaptiveAfter : adaptiveBefore
      // The oracle chooses among what the adaptive policy may offer (the same eligibility).
      let eligible = try failing { try adaptive.eligibleOffers(request) }
      guard !eligible.isEmpty else { continue }
      current.interactions += 1
      current.oracleValue += eligible.map { truthOf($0) * values[$0]! }.max()!
      let fixed = try failing { try simulation.greedy.decide(request, decisionId: "s-\(k)") }
      if let chosen = fixed.offers.first { current.staticValue += truthOf(chosen.offerId) * chosen.value }
      let learning = try failing { try adaptive.decide(request, decisionId: "a-\(k)") }
      if let chosen = learning.offers.first {
        let p = truthOf(chosen.offerId)
        current.adaptiveValue += p * chosen.value
        adaptive.learn(learning, offer: chosen, label: outcomes.chance(p))
      }
    }
    windows.append(current)
    return windows
  }
}
