import ArbiterCore
import ArbiterDecisioning
import ArbiterModels
import Foundation
import Testing

/// Adaptive models: a new offer learns from its first outcomes, an offline model is refined, a bad
/// update is refused, the state survives a snapshot, and Thompson sampling's logged
/// probabilities match how often each offer is drawn.
@Suite struct AdaptiveModelsTests {
  static func table() throws -> (AdaptiveModels, FeatureSchema) {
    let schema = try ModelBundle.load(from: TestSupport.demoBundlePath).schema
    return (AdaptiveModels(schema: schema, customers: nil, nowDays: 0), schema)
  }

  static func predicted(_ models: AdaptiveModels, slot: Int, logit: Double) -> Double {
    let s = [Double](repeating: 0, count: models.columns.count)
    return s.withUnsafeBufferPointer { sigmoid(models.predictor(slot: slot, logit: logit, s: $0).mean) }
  }

  @Test func aNewOfferLearnsItsRateAndAnOfflineModelIsRefined() throws {
    let (models, schema) = try Self.table()
    let policy = AdaptivePolicy()
    let new = try #require(models.slot(key: "fresh#new", prior: .new, policy: policy))
    let refined = try #require(models.slot(key: "card", prior: .offline, policy: policy))
    #expect(abs(Self.predicted(models, slot: new, logit: policy.newOfferLogOdds) - sigmoid(-3)) < 1e-12)
    // The offline model says 10%; customers respond at 5%.
    #expect(abs(Self.predicted(models, slot: refined, logit: DecisionEngineLogOdds.of(0.1)) - 0.1) < 1e-12)
    var random = SeededGenerator(seed: 5)
    let customer = [Float](repeating: .nan, count: schema.width)
    for _ in 0..<4_000 {
      customer.withUnsafeBufferPointer { x in
        _ = models.update(slot: new, logit: policy.newOfferLogOdds, customer: x, label: random.chance(0.2), drift: 0)
        _ = models.update(
          slot: refined, logit: DecisionEngineLogOdds.of(0.1), customer: x, label: random.chance(0.05), drift: 0)
      }
    }
    #expect(abs(Self.predicted(models, slot: new, logit: policy.newOfferLogOdds) - 0.2) < 0.02)
    #expect(abs(Self.predicted(models, slot: refined, logit: DecisionEngineLogOdds.of(0.1)) - 0.05) < 0.01)
    let status = models.models.first { $0.key == "fresh#new" }!
    #expect(status.posterior.updates == 4_000 && status.posterior.positives > 700 && status.prior == .new)
  }

  @Test func aNaNUpdateIsRefusedAndChangesNothing() throws {
    let (models, schema) = try Self.table()
    let slot = try #require(models.slot(key: "card", prior: .offline, policy: AdaptivePolicy()))
    let before = models.snapshot()
    let customer = [Float](repeating: 1, count: schema.width)
    let refused = customer.withUnsafeBufferPointer {
      models.update(slot: slot, logit: .nan, customer: $0, label: true, drift: 0)
    }
    #expect(!refused && models.refusedCount == 1)
    var after = models.snapshot()
    after.refused = 0
    #expect(after == before)
  }

  @Test func aSnapshotRestoresEveryModelAndAResetReturnsToThePrior() throws {
    let (models, schema) = try Self.table()
    let policy = AdaptivePolicy()
    let slot = try #require(models.slot(key: "card@web", prior: .offline, policy: policy))
    var customer = [Float](repeating: 0, count: schema.width)
    for k in 0..<200 {
      customer[0] = Float(k % 7)
      customer.withUnsafeBufferPointer {
        _ = models.update(slot: slot, logit: -2, customer: $0, label: k % 5 == 0, drift: 1e-4)
      }
    }
    let snapshot = models.snapshot()
    let data = try JSONEncoder().encode(snapshot)
    let decoded = try JSONDecoder().decode(AdaptiveModels.Snapshot.self, from: data)
    let restored = AdaptiveModels(schema: schema, customers: nil, nowDays: 0, snapshot: decoded)
    #expect(restored.snapshot() == snapshot)
    #expect(Self.predicted(restored, slot: 0, logit: -2) == Self.predicted(models, slot: slot, logit: -2))
    models.reset(policy: policy)
    #expect(models.models[0].posterior == AdaptiveModels.prior(.offline, policy: policy, width: models.width))
  }

  /// A catalogue exploring by Thompson sampling with uncertain models: over many decisions for
  /// one customer, each offer's share of first positions matches the mean probability logged with it.
  @Test func thompsonsLoggedProbabilitiesMatchHowOftenEachOfferIsDrawn() throws {
    var bundle = try ModelBundle.load(from: TestSupport.demoBundlePath)
    var policy = AdaptivePolicy()
    policy.offlineVariance = 0.5
    policy.probabilityDraws = 200
    bundle.catalogue.adaptive = policy
    bundle.catalogue.exploration = ExplorationPolicy(method: .thompson)
    bundle.catalogue = DecisionEngine.replayCatalogue(bundle.catalogue)
    let server = try TestSupport.makeServer(customers: 2_000)
    let engine = try DecisionEngine(bundle: bundle, customers: server.store, clock: { TestSupport.fixedClockDays })
    // A customer with several competing offers.
    var customer: UInt64 = 0
    for id in server.store.customerIds() {
      let offers = Set(
        (0..<40).compactMap { k in
          try? engine.decide(DecisionRequest(customerId: id, channel: .web, maxOffers: 1), decisionId: "p\(id)-\(k)")
            .offers.first?.offerId
        })
      if offers.count >= 3 {
        customer = id
        break
      }
    }
    try #require(customer != 0, "no customer with three competing offers")
    let n = 3_000
    var shown: [String: Int] = [:]
    var logged: [String: Double] = [:]
    for k in 0..<n {
      let decision = try engine.decide(
        DecisionRequest(customerId: customer, channel: .web, maxOffers: 1), decisionId: "t\(k)")
      guard let first = decision.offers.first else { continue }
      #expect(decision.exploration == "thompson" && first.probability > 0 && first.probability <= 1)
      #expect(decision.probabilityDraws == 200)
      shown[first.offerId, default: 0] += 1
      logged[first.offerId, default: 0] += first.probability
    }
    // The models do not learn here, so every decision for this customer has the same chance of
    // showing each offer: its share of first positions, which each logged probability estimates.
    for (offer, count) in shown where count >= 100 {
      let frequency = Double(count) / Double(n)
      let meanLogged = logged[offer]! / Double(count)
      #expect(abs(frequency - meanLogged) < 0.04, "\(offer): shown \(frequency), logged \(meanLogged)")
    }
    #expect(shown.count >= 3, "\(shown)")
    // The log line says how many resamples the probabilities came from.
    let path = try TestSupport.temporaryDirectory() + "/thompson.jsonl"
    let log = try InteractionLog(path: path)
    log.record(
      try engine.decide(DecisionRequest(customerId: customer, channel: .web, maxOffers: 2), decisionId: "logged"))
    log.flush()
    let line = try String(contentsOfFile: path, encoding: .utf8)
    let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "\(line)")
    #expect(object["probability_draws"] as? Int == 200 && object["exploration"] as? String == "thompson", "\(line)")
  }
}

/// The engine's log-odds, for tests.
enum DecisionEngineLogOdds {
  static func of(_ p: Double) -> Double { log(p / (1 - p)) }
}
