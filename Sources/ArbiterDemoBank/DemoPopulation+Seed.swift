import ArbiterCore
import ArbiterFeatureStore
import ArbiterModels

extension DemoPopulation {
  /// Fills an empty `store` with the population `bundle`'s manifest names: `customers` of them
  /// (nil: as many as the manifest says), stored as of `nowDays` (derived features materialised
  /// then). Refused when the bundle names no population, another generator, or a schema other
  /// than the demo bank's.
  public static func seed(
    _ store: FeatureStore, bundle: ModelBundle, customers: Int?, nowDays now: Double
  ) throws(ArbiterError) {
    guard let population = bundle.manifest.population else {
      throw ArbiterError(
        .failedPrecondition,
        "the feature store is empty and bundle \(bundle.manifest.name)/\(bundle.manifest.version) names no population; "
          + "import customers with `arbiter-tools import`")
    }
    guard population.generator == generatorName else {
      throw ArbiterError(
        .failedPrecondition,
        "bundle population generator '\(population.generator)' is unknown (this build knows '\(generatorName)')")
    }
    let count = customers ?? population.customers
    guard count > 0, count <= 20_000_000 else {
      throw ArbiterError(.invalidArgument, "customers must be between 1 and 20000000, got \(count)")
    }
    let generator = DemoPopulation(seed: population.seed)
    guard generator.schema.layout == bundle.schema.layout else {
      throw ArbiterError(
        .failedPrecondition,
        "the demo population's schema differs from bundle \(bundle.manifest.name)/\(bundle.manifest.version)'s")
    }
    // The generator describes customers as they read at one moment; store them as of now, with
    // the consents their consent features say.
    var start = 0
    while start < count {
      let end = min(count, start + 50_000)
      let records = (start..<end).map { number in
        var record = generator.customer(number: number)
        record.values = store.derivations.materialized(record.values, nowDays: now)
        return record
      }
      _ = try store.upsert(records)
      try seedConsents(of: records, into: store, schema: generator.schema, nowDays: now)
      start = end
    }
  }

  /// A store, in memory and unlogged, of `customers` demo customers after those a bundle's models
  /// were trained on (numbered from the population's size, at least 100,000), with their
  /// derived features at `nowDays` and their consents: customers the models never saw, for
  /// simulations and benchmarks.
  public static func unseenStore(
    schema: FeatureSchema, population: PopulationSpec, customers: Int, nowDays now: Double
  ) throws(ArbiterError) -> FeatureStore {
    let store = try FeatureStore(schema: schema, expectedCustomers: customers)
    let generator = DemoPopulation(seed: population.seed)
    let firstUnseen = max(population.customers, 100_000)
    let records = (0..<customers).map { k in
      var record = generator.customer(number: firstUnseen + k)
      record.values = store.derivations.materialized(record.values, nowDays: now)
      return record
    }
    _ = try store.upsert(records, logged: false)
    try seedConsents(of: records, into: store, schema: schema, nowDays: now, logged: false)
    return store
  }

  /// Records the consents of `records` (stored already) as ``DemoBankSchema/consents(of:schema:)``
  /// says, from the source "demo-seed" at `nowDays`; `logged` false skips the log (a store that
  /// is never reopened).
  public static func seedConsents(
    of records: [CustomerRecord], into store: FeatureStore, schema: FeatureSchema, nowDays now: Double,
    logged: Bool = true
  ) throws(ArbiterError) {
    let millis = Int64(now * 86_400_000)
    var changes: [ConsentChange] = []
    for record in records {
      let consents = record.values.withUnsafeBufferPointer { DemoBankSchema.consents(of: $0, schema: schema) }
      for channel in Channel.allCases {
        for purpose in ConsentPurpose.allCases where consents.state(channel, purpose) != .unrecorded {
          changes.append(
            ConsentChange(
              customerId: record.id,
              record: ConsentRecord(
                channel: channel, purpose: purpose, state: consents.state(channel, purpose), timestampMillis: millis,
                source: "demo-seed")))
        }
      }
    }
    let result = store.recordConsents(changes, logged: logged)
    guard result.rejected == 0 else {
      throw ArbiterError(.internalError, "the demo consents were refused: \(result.errors.joined(separator: "; "))")
    }
  }
}
