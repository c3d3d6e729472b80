import ArbiterCore
import ArbiterDecisioning
import ArbiterDemoBank
import ArbiterFeatureStore
import ArbiterModels
import ArgumentParser
import Foundation

/// Decision quality against the demo bank's hidden truth: plays interactions with customers the
/// models never saw and reports, per policy, the expected accepted value per 1,000 decisions.
struct Simulate: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Play N interactions on the demo bank and compare Arbiter's policy with a random one and the oracle that knows the true propensities.")

  @Option(help: "Bundle to decide with.") var bundle = "models/demo"
  @Option(help: "Interactions to play.") var interactions = 50_000
  @Option(help: "Customers to draw from (demo customers after the first 100,000, which trained the models).") var customers = 20_000
  @Option(help: "Random seed of the interactions.") var seed: UInt64 = 7
  @Option(help: "Clock, days since 1970 (the demo's).") var clock = 20_412.0

  func run() throws {
    let loaded = try failing { try ModelBundle.load(from: bundle) }
    guard let population = loaded.manifest.population, population.generator == DemoPopulation.generatorName else {
      throw ValidationError("\(bundle) is not a demo-bank bundle (its manifest names no demo population)")
    }
    // Every policy chooses one offer among the same eligible offers, with no cost, control
    // group or contact history in the way: the comparison is of choices, not of policies.
    var catalogue = loaded.catalogue
    catalogue.arbitration.subtractChannelCost = false
    catalogue.arbitration.pacing = false
    catalogue.controlGroup = nil
    catalogue.contactPolicy = ContactPolicy()
    for i in catalogue.offers.indices { catalogue.offers[i].quota = nil }
    catalogue.capacity = []
    let greedyCatalogue = { var c = catalogue; c.exploration = ExplorationPolicy(method: .greedy); return c }()
    func bundleWith(_ catalogue: CatalogueDocument) throws -> ModelBundle {
      try failing {
        try ModelBundle(
          name: loaded.manifest.name, version: loaded.manifest.version, createdBy: "simulate", schema: loaded.schema, catalogue: catalogue,
          models: loaded.models, population: population)
      }
    }

    let store = try failing { try FeatureStore(schema: loaded.schema, expectedCustomers: customers) }
    let generator = DemoPopulation(seed: population.seed)
    let firstUnseen = max(population.customers, 100_000)
    _ = try failing {
      try store.upsert((0..<customers).map { k in
        var record = generator.customer(number: firstUnseen + k)
        record.values = store.derivations.materialized(record.values, nowDays: clock)
        return record
      }, logged: false)
    }
    let day = clock
    let configured = try failing { try DecisionEngine(bundle: try bundleWith(catalogue), customers: store, clock: { day }) }
    let greedy = try failing { try DecisionEngine(bundle: try bundleWith(greedyCatalogue), customers: store, clock: { day }) }
    let truth = try failing { try GroundTruth.Evaluator(truth: DemoBankCatalogue.groundTruth, schema: loaded.schema) }
    let truthIndex = Dictionary(uniqueKeysWithValues: DemoBankCatalogue.groundTruth.offers.enumerated().map { ($1.offerId, $0) })
    let offers = greedy.catalogue.offers
    let toTruth = try offers.map { offer in
      guard let index = truthIndex[offer.definition.id] else { throw ValidationError("no ground truth for offer '\(offer.definition.id)'") }
      return index
    }

    struct Tally {
      var value = 0.0, responses = 0.0, decided = 0
      mutating func add(_ p: Double, _ v: Double) { value += p * v; responses += p; decided += 1 }
    }
    var arbiter = Tally(), explored = Tally(), random = Tally(), oracle = Tally()
    var rng = SeededGenerator(seed: seed)
    let inbound: [Channel] = [.web, .mobileApp, .contactCentre, .branch]
    let ids = store.customerIds()
    var buffer = [Float](repeating: 0, count: loaded.schema.width)
    var eligible: [Int] = []
    var played = 0
    let started = Date()
    for k in 0..<interactions {
      let id = ids[Int(rng.next() % UInt64(ids.count))]
      let channel = inbound[Int(rng.next() % UInt64(inbound.count))]
      let row = store.row(of: id)!
      buffer.withUnsafeMutableBufferPointer { store.read(row: row, into: $0, nowDays: clock) }
      let context: [Float] = loaded.schema.contextFeatures.map { $0.name == "channel" ? Float(channel.ordinal) : .nan }
      eligible.removeAll(keepingCapacity: true)
      buffer.withUnsafeBufferPointer { x in
        context.withUnsafeBufferPointer { c in
          let rules = greedy.catalogue.rules
          let consent = rules.consents(x, on: channel)
          for offer in offers where rules.check(offer: offer.index, customer: x, context: c, channel: channel, consentGiven: consent, nowDays: clock) == nil {
            eligible.append(offer.index)
          }
        }
      }
      guard !eligible.isEmpty else { continue }
      played += 1
      func truthOf(_ offer: Int) -> Double { buffer.withUnsafeBufferPointer { truth.probability(offer: toTruth[offer], customer: $0, channel: channel) } }
      let request = DecisionRequest(customerId: id, channel: channel, maxOffers: 1)
      for (engine, tally) in [(greedy, 0), (configured, 1)] {
        let decision = try failing { try engine.decide(request, decisionId: "sim-\(k)") }
        guard let chosen = decision.offers.first else { continue }
        if tally == 0 { arbiter.add(truthOf(chosen.offerIndex), chosen.value) } else { explored.add(truthOf(chosen.offerIndex), chosen.value) }
      }
      let pick = eligible[Int(rng.next() % UInt64(eligible.count))]
      random.add(truthOf(pick), offers[pick].definition.value)
      let best = eligible.max { truthOf($0) * offers[$0].definition.value < truthOf($1) * offers[$1].definition.value }!
      oracle.add(truthOf(best), offers[best].definition.value)
    }
    let per = 1_000 / Double(max(played, 1))
    print("\(played) interactions with an eligible offer (of \(interactions)); \(customers) unseen demo customers; inbound channels; bundle \(loaded.manifest.name)/\(loaded.manifest.version); \(String(format: "%.1f", Date().timeIntervalSince(started))) s")
    print("policy                                         value / 1,000   responses / 1,000   of oracle")
    for (name, tally) in [
      ("oracle (knows the true propensities)", oracle), ("Arbiter, greedy", arbiter),
      ("Arbiter, as configured (\(catalogue.exploration.method.rawValue)\(catalogue.exploration.method == .epsilonGreedy ? " \(catalogue.exploration.epsilon)" : ""))", explored),
      ("random eligible offer", random),
    ] {
      print(
        name.padding(toLength: 46, withPad: " ", startingAt: 0) + String(format: " %14.0f   %17.1f   %8.1f%%", tally.value * per, tally.responses * per, 100 * tally.value / oracle.value))
    }
  }
}
