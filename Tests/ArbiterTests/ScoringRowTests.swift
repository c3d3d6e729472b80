import ArbiterCore
import ArbiterDemoBank
import ArbiterFeatureStore
import ArbiterModels
import Foundation
import Testing

/// The dense, prepared-row logistic path that Decide uses gives the term-by-term log-odds, with
/// missing values, unknown and missing categorical codes, and context values.
@Suite struct ScoringRowTests {
  @Test func preparedRowLogitEqualsTermByTerm() throws {
    let bundle = try ModelBundle.load(from: TestSupport.demoBundlePath)
    let schema = bundle.schema
    let models = try bundle.models.models.map { try CompiledLogisticModel($0, schema: schema) }
    let derivations = try CompiledDerivations(schema: schema)
    let layout = ScoringLayout(schema: schema)
    var rng = SeededGenerator(seed: 7)
    let categorical = schema.customerFeatures.indices.filter {
      if case .categorical = schema.customerFeatures[$0].kind { true } else { false }
    }
    #expect(!categorical.isEmpty)
    var checked = 0, withMissingNumeric = 0, worst = 0.0
    for (n, record) in DemoPopulation(seed: 42).customers(count: 400).enumerated() {
      var x = derivations.materialized(record.values, nowDays: TestSupport.fixedClockDays)
      // A quarter of the customers lose some values; some get codes no level has.
      if n % 4 == 1 { for _ in 0..<6 { x[Int(rng.next() % UInt64(x.count))] = .nan } }
      if n % 4 == 2 { for f in categorical { x[f] = [Float(99), 1.5, -1, .nan][Int(rng.next() % 4)] } }
      let context = (0..<schema.contextFeatures.count).map { _ in n % 3 == 0 ? Float.nan : Float(rng.next() % 5) }
      x.withUnsafeBufferPointer { customer in
        context.withUnsafeBufferPointer { c in
          ScoringRow.prepare(layout: layout, customer: customer, context: c) { row in
            for model in models {
              let reference = model.logit(customer: customer, context: c)
              let dense = model.logit(row: row)
              worst = max(worst, abs(dense - reference) / max(1, abs(reference)))
              checked += 1
            }
          }
        }
      }
      if x.contains(where: \.isNaN) { withMissingNumeric += 1 }
    }
    #expect(checked == 400 * models.count)
    #expect(withMissingNumeric > 100)
    #expect(worst < 1e-12, "largest relative difference \(worst)")
  }
}
