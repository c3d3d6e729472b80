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
    // The generator describes customers as they read at one moment; store them as of now.
    var start = 0
    while start < count {
      let end = min(count, start + 50_000)
      _ = try store.upsert(
        (start..<end).map { number in
          var record = generator.customer(number: number)
          record.values = store.derivations.materialized(record.values, nowDays: now)
          return record
        })
      start = end
    }
  }
}
