import ArbiterCore
import ArbiterDecisioning
import ArbiterModels
import ArbiterServer
import ArbiterService

extension TestSupport {
  /// An engine over `server`'s customers with its bundle's catalogue changed by `change`
  /// (its own pacing, so quotas and capacity start unused), reading derived features at `day`.
  static func engine(
    over server: ArbiterServer, at day: Double = fixedClockDays, _ change: (inout CatalogueDocument) -> Void
  ) throws -> DecisionEngine {
    let live = server.live.snapshot
    var catalogue = live.bundle.catalogue
    change(&catalogue)
    let bundle = try ModelBundle(
      name: "demo", version: "t", createdBy: "test", schema: live.bundle.schema, catalogue: catalogue,
      models: live.bundle.models, population: live.bundle.manifest.population)
    return try DecisionEngine(bundle: bundle, customers: live.engine.customers, clock: { day })
  }
}
