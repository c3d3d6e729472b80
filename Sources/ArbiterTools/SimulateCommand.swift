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
    abstract:
      "Play N interactions on the demo bank and compare Arbiter's policy with a random one and the oracle that knows "
      + "the true propensities."
  )

  @Option(help: "Bundle to decide with.") var bundle = "models/demo"
  @Option(help: "Interactions to play.") var interactions = 50_000
  @Option(help: "Customers to draw from (demo customers after the first 100,000, which trained the models).")
  var customers = 20_000
  @Option(help: "Random seed of the interactions.") var seed: UInt64 = 7
  @Option(help: "Clock, days since 1970 (the demo's).") var clock = 20_412.0
  @Flag(
    help: ArgumentHelp(
      "A drifting world: a new offer arrives a third of the way in, and the most-made offer's true propensity halves "
        + "two thirds in; compares the static bundle, adaptive models with Thompson sampling, and the oracle."))
  var drift = false
  @Option(help: "With --drift: interactions per reported window.") var window = 5_000
  @Option(
    name: .customLong("adaptive-policy"),
    help: "With --drift: the adaptive models' policy as JSON (the catalogue's \"adaptive\" section; default its defaults).")
  var adaptivePolicy: String?
  @Flag(
    name: .customLong("cold-start"),
    help: "With --drift: the new offer starts from the adaptive prior alone, not from the offer it is a variant of.")
  var coldStart = false

  /// Loads the bundle, seeds a store with unseen demo customers, plays the interactions and
  /// prints the report.
  func run() throws {
    let (loaded, population) = try loadDemoBundle()
    let catalogue = Self.comparisonCatalogue(loaded.catalogue)
    let store = try seedStore(schema: loaded.schema, population: population)
    if drift { return try runDrift(loaded: loaded, population: population, catalogue: catalogue, store: store) }
    var simulation = try Simulation(
      loaded: loaded, population: population, catalogue: catalogue, store: store, clock: clock)
    let started = Date()
    let tallies = try simulation.play(interactions: interactions, seed: seed)
    report(tallies, catalogue: catalogue, loaded: loaded, seconds: Date().timeIntervalSince(started))
  }

  /// `--drift`: the windows' value per 1,000 decisions, and how soon after each change the
  /// adaptive policy is back within 95% of the oracle.
  private func runDrift(
    loaded: ModelBundle, population: PopulationSpec, catalogue: CatalogueDocument, store: FeatureStore
  ) throws {
    var simulation = try Simulation(loaded: loaded, population: population, catalogue: catalogue, store: store, clock: clock)
    let halved = try simulation.mostMade(interactions: 3_000, seed: seed ^ 0xd41f)
    var policy = AdaptivePolicy()
    if let adaptivePolicy {
      do { policy = try JSONDecoder().decode(AdaptivePolicy.self, from: Data(adaptivePolicy.utf8)) } catch {
        throw ValidationError("--adaptive-policy is not an adaptive policy: \(error)")
      }
    }
    let world = try DriftSimulation(
      loaded: loaded, population: population, catalogue: catalogue, store: store, clock: clock, halvedOffer: halved,
      policy: policy, lookalike: !coldStart)
    let started = Date()
    let windows = try world.play(interactions: interactions, window: window, seed: seed)
    let arrival = interactions / 3, halving = 2 * interactions / 3
    print(
      "\(interactions) interactions, \(customers) unseen demo customers, inbound channels; a new offer "
        + "('\(DriftSimulation.newOfferId)') at \(arrival), '\(halved)' halves at \(halving); "
        + "\(String(format: "%.1f", Date().timeIntervalSince(started))) s")
    print(coldStart ? "the new offer starts cold" : "the new offer's model starts from the offer it is a variant of")
    print("from       value / 1,000: static   adaptive+Thompson   oracle     static    adaptive  (of oracle)")
    for w in windows where w.interactions > 0 {
      let per = 1_000 / Double(w.interactions)
      let marker = w.start == arrival ? "  ← new offer" : w.start == halving ? "  ← propensity halves" : ""
      print(
        String(
          format: "%-10d %20.0f %19.0f %9.0f %9.1f%% %9.1f%%%@", w.start, w.staticValue * per, w.adaptiveValue * per,
          w.oracleValue * per, 100 * w.staticValue / w.oracleValue, 100 * w.adaptiveValue / w.oracleValue, marker))
    }
    for (name, change) in [("the new offer", arrival), ("the halving", halving)] {
      let after = windows.filter { $0.start >= change && $0.start < (change == arrival ? halving : interactions) }
      let back = after.first { $0.adaptiveValue >= 0.95 * $0.oracleValue }
      let staticBest = after.map { $0.staticValue / $0.oracleValue }.max() ?? .nan
      print(
        "after \(name): adaptive within 95% of the oracle "
          + (back.map { "from the window starting \($0.start - change) interactions after it" } ?? "in no window")
          + String(format: "; static at most %.1f%% of the oracle", 100 * staticBest))
    }
  }

  private func loadDemoBundle() throws -> (ModelBundle, PopulationSpec) {
    let loaded = try failing { try ModelBundle.load(from: bundle) }
    guard let population = loaded.manifest.population, population.generator == DemoPopulation.generatorName else {
      throw ValidationError("\(bundle) is not a demo-bank bundle (its manifest names no demo population)")
    }
    return (loaded, population)
  }

  /// Every policy chooses one offer among the same eligible offers, with no cost, control
  /// group or contact history in the way: the comparison is of choices, not of policies.
  private static func comparisonCatalogue(_ loaded: CatalogueDocument) -> CatalogueDocument {
    var catalogue = DecisionEngine.replayCatalogue(loaded)
    catalogue.arbitration.subtractChannelCost = false
    return catalogue
  }

  /// A store of `customers` demo customers after those the models were trained on.
  private func seedStore(schema: FeatureSchema, population: PopulationSpec) throws -> FeatureStore {
    try failing {
      try DemoPopulation.unseenStore(schema: schema, population: population, customers: customers, nowDays: clock)
    }
  }

  private func report(
    _ tallies: Simulation.Tallies, catalogue: CatalogueDocument, loaded: ModelBundle, seconds: Double
  ) {
    let played = tallies.played, oracle = tallies.oracle
    let per = 1_000 / Double(max(played, 1))
    print(
      "\(played) interactions with an eligible offer (of \(interactions)); \(customers) unseen demo customers; "
        + "inbound channels; bundle \(loaded.manifest.name)/\(loaded.manifest.version); "
        + "\(String(format: "%.1f", seconds)) s")
    print("policy                                         value / 1,000   responses / 1,000   of oracle")
    let exploration = catalogue.exploration
    let epsilon = exploration.method == .epsilonGreedy ? " \(exploration.epsilon)" : ""
    for (name, tally) in [
      ("oracle (knows the true propensities)", oracle), ("Arbiter, greedy", tallies.arbiter),
      ("Arbiter, as configured (\(exploration.method.rawValue)\(epsilon))", tallies.explored),
      ("random eligible offer", tallies.random),
    ] {
      let share = 100 * tally.value / oracle.value
      let numbers = String(format: " %14.0f   %17.1f   %8.1f%%", tally.value * per, tally.responses * per, share)
      print(name.padding(toLength: 46, withPad: " ", startingAt: 0) + numbers)
    }
  }
}

/// One simulation's state: the engines of the two Arbiter policies, the hidden truth, and the
/// store they decide on.
struct Simulation {
  struct Tally {
    var value = 0.0, responses = 0.0, decided = 0
    mutating func add(_ p: Double, _ v: Double) { value += p * v; responses += p; decided += 1 }
  }

  /// Each policy's tally, and how many interactions had an eligible offer.
  struct Tallies {
    var arbiter = Tally(), explored = Tally(), random = Tally(), oracle = Tally()
    var played = 0
  }

  let schema: FeatureSchema
  let store: FeatureStore
  let clock: Double
  let configured: DecisionEngine
  let greedy: DecisionEngine
  let truth: GroundTruth.Evaluator
  let offers: [CompiledOffer]
  /// Catalogue offer index → ground-truth offer index.
  let toTruth: [Int]
  var buffer: [Float]
  var eligible: [Int] = []

  init(
    loaded: ModelBundle, population: PopulationSpec, catalogue: CatalogueDocument,
    store: FeatureStore, clock: Double
  ) throws {
    let greedyCatalogue = {
      var c = catalogue; c.exploration = ExplorationPolicy(method: .greedy); return c
    }()
    func bundleWith(_ catalogue: CatalogueDocument) throws -> ModelBundle {
      try failing {
        try ModelBundle(
          name: loaded.manifest.name, version: loaded.manifest.version, createdBy: "simulate", schema: loaded.schema,
          catalogue: catalogue, models: loaded.models, population: population)
      }
    }
    let day = clock
    configured = try failing {
      try DecisionEngine(bundle: try bundleWith(catalogue), customers: store, clock: { day })
    }
    greedy = try failing {
      try DecisionEngine(bundle: try bundleWith(greedyCatalogue), customers: store, clock: { day })
    }
    truth = try failing { try GroundTruth.Evaluator(truth: DemoBankCatalogue.groundTruth, schema: loaded.schema) }
    let truthIndex = Dictionary(
      uniqueKeysWithValues: DemoBankCatalogue.groundTruth.offers.enumerated().map { ($1.offerId, $0) })
    offers = greedy.catalogue.offers
    toTruth = try offers.map { offer in
      guard let index = truthIndex[offer.definition.id] else {
        throw ValidationError("no ground truth for offer '\(offer.definition.id)'")
      }
      return index
    }
    schema = loaded.schema
    self.store = store
    self.clock = clock
    buffer = [Float](repeating: 0, count: loaded.schema.width)
  }

  /// The offer the greedy engine makes most often over `interactions` random interactions.
  mutating func mostMade(interactions: Int, seed: UInt64) throws -> String {
    var rng = SeededGenerator(seed: seed)
    let inbound: [Channel] = [.web, .mobileApp, .contactCentre, .branch]
    let ids = store.customerIds()
    var counts: [String: Int] = [:]
    for k in 0..<interactions {
      let id = ids[Int(rng.next() % UInt64(ids.count))]
      let channel = inbound[Int(rng.next() % UInt64(inbound.count))]
      let decision = try failing {
        try greedy.decide(DecisionRequest(customerId: id, channel: channel, maxOffers: 1), decisionId: "m-\(k)")
      }
      if let offer = decision.offers.first { counts[offer.offerId, default: 0] += 1 }
    }
    return counts.max { $0.value < $1.value || ($0.value == $1.value && $0.key > $1.key) }!.key
  }

  /// Plays `interactions` inbound interactions with random customers on random channels.
  mutating func play(interactions: Int, seed: UInt64) throws -> Tallies {
    var tallies = Tallies()
    var rng = SeededGenerator(seed: seed)
    let inbound: [Channel] = [.web, .mobileApp, .contactCentre, .branch]
    let ids = store.customerIds()
    for k in 0..<interactions {
      let id = ids[Int(rng.next() % UInt64(ids.count))]
      let channel = inbound[Int(rng.next() % UInt64(inbound.count))]
      findEligible(customer: id, channel: channel)
      guard !eligible.isEmpty else { continue }
      tallies.played += 1
      try score(customer: id, channel: channel, interaction: k, rng: &rng, into: &tallies)
    }
    return tallies
  }

  /// Reads the customer into `buffer` and collects the offers eligible for them in `eligible`.
  private mutating func findEligible(customer id: UInt64, channel: Channel) {
    let row = store.row(of: id)!
    let (store, clock) = (self.store, self.clock)
    buffer.withUnsafeMutableBufferPointer { store.read(row: row, into: $0, nowDays: clock) }
    let context: [Float] = schema.contextFeatures.map { $0.name == "channel" ? Float(channel.ordinal) : .nan }
    let rules = greedy.catalogue.rules
    let offers = self.offers
    // Taken out of self while the buffer is read (the same storage, kept).
    var found = eligible
    eligible = []
    found.removeAll(keepingCapacity: true)
    buffer.withUnsafeBufferPointer { x in
      context.withUnsafeBufferPointer { c in
        let consents = store.consents(row: row)
        for offer in offers
        where rules.check(
          offer: offer.index, customer: x, context: c, channel: channel, consents: consents, nowDays: clock) == nil
        {
          found.append(offer.index)
        }
      }
    }
    eligible = found
  }

  /// Each policy's choice among the eligible offers, valued by the hidden truth.
  private func score(
    customer id: UInt64, channel: Channel, interaction k: Int, rng: inout SeededGenerator, into tallies: inout Tallies
  ) throws {
    func truthOf(_ offer: Int) -> Double {
      buffer.withUnsafeBufferPointer { truth.probability(offer: toTruth[offer], customer: $0, channel: channel) }
    }
    let request = DecisionRequest(customerId: id, channel: channel, maxOffers: 1)
    for (engine, tally) in [(greedy, 0), (configured, 1)] {
      let decision = try failing { try engine.decide(request, decisionId: "sim-\(k)") }
      guard let chosen = decision.offers.first else { continue }
      if tally == 0 {
        tallies.arbiter.add(truthOf(chosen.offerIndex), chosen.value)
      } else {
        tallies.explored.add(truthOf(chosen.offerIndex), chosen.value)
      }
    }
    let pick = eligible[Int(rng.next() % UInt64(eligible.count))]
    tallies.random.add(truthOf(pick), offers[pick].definition.value)
    let best = eligible.max {
      truthOf($0) * offers[$0].definition.value < truthOf($1) * offers[$1].definition.value
    }!
    tallies.oracle.add(truthOf(best), offers[best].definition.value)
  }
}
