import ArbiterCore
import ArbiterDecisioning
import ArbiterDemoBank
import ArbiterFeatureStore
import ArbiterModels
import ArgumentParser
import Foundation

/// Scoring speed of one request: one customer × N offers, single thread (see BENCHMARKS.md).
struct ModelBench: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "model-bench",
    abstract: "Time scoring one customer × N offers with tree ensembles and logistic models.")

  @Option(help: "Directory with schema.json, lightgbm.txt, xgboost.json and parity.csv.") var fixtures =
    "Tests/ArbiterTests/Fixtures/models"
  @Option(help: "Bundle with logistic models.") var bundle = "models/demo"
  @Option(help: "Offers per request.") var offers = 50
  @Option(help: "Timed requests.") var requests = 20_000

  func run() throws {
    try benchTrees()
    try benchLogistic()
  }

  /// The fixture's schema and its first `offers` rows (empty cells missing).
  private func load(_ directory: String) throws -> (FeatureSchema, [[Float]]) {
    let schema = try failing {
      try CanonicalJSON.decode(
        FeatureSchema.self, from: try Data(contentsOf: URL(fileURLWithPath: directory + "/schema.json")),
        file: "schema.json")
    }
    let table = try failing {
      try CSVTable(text: try String(contentsOfFile: directory + "/parity.csv", encoding: .utf8), file: "parity.csv")
    }
    // N offers = N rows through the model (each offer changes the row, as offer features would).
    return (
      schema,
      table.rows.prefix(offers).map { row in (0..<schema.width).map { row[$0].isEmpty ? .nan : Float(row[$0])! } }
    )
  }

  /// The tree models of the fixtures (LightGBM with native categorical splits and one-hot,
  /// XGBoost), one customer × `offers` rows a request.
  private func benchTrees() throws {
    let (schema, rows) = try load(fixtures)
    let (wideSchema, wideRows) = try load(fixtures + "/wide")
    let lightGBM = try failing {
      try LightGBMImporter.load(try String(contentsOfFile: fixtures + "/lightgbm.txt", encoding: .utf8), schema: schema)
    }
    let xgboost = try failing {
      try XGBoostImporter.load(try Data(contentsOf: URL(fileURLWithPath: fixtures + "/xgboost.json")), schema: schema)
    }
    let wide = try failing {
      try LightGBMImporter.load(
        try String(contentsOfFile: fixtures + "/wide/lightgbm.txt", encoding: .utf8), schema: wideSchema)
    }
    let cases = [
      ("LightGBM, \(schema.width) features (native categorical splits)", lightGBM, rows, schema.width),
      ("LightGBM, \(wideSchema.width) features (one-hot)", wide, wideRows, wideSchema.width),
      ("XGBoost, \(schema.width) features", xgboost, rows, schema.width),
    ]
    for (name, model, rows, width) in cases {
      let visits = rows.reduce(0) { total, row in total + row.withUnsafeBufferPointer { model.nodeVisits($0) } }
      var sink = 0.0
      let flat = rows.flatMap { $0 }
      var out = [Double](repeating: 0, count: rows.count)
      let samples = flat.withUnsafeBufferPointer { x in
        out.withUnsafeMutableBufferPointer { o in
          LatencySamples.time(requests, warmUp: 100) {
            model.rawScores(rows: x.baseAddress!, count: rows.count, width: width, into: o.baseAddress!)
            sink += o[0]
          }
        }
      }
      let mean = Double(samples.reduce(0, +)) / Double(samples.count)
      let path = model.quickScorerWidth.map { "QuickScorer, \($0)-bit leaf sets" } ?? "reference walk"
      print(
        "\(name): \(model.treeCount) trees, \(model.nodeCount) split nodes (\(path)); "
          + "1 customer × \(rows.count) offers:"
      )
      let perNode = String(format: "%.2f", mean / Double(visits))
      print(
        "  \(LatencySamples.summary(samples)); \(visits / rows.count) node visits per offer, "
          + "\(perNode) ns per node a tree walk would visit (sink \(sink))"
      )
    }
  }

  /// The bundle's logistic models over 1,000 demo customers, term by term and as Decide scores.
  private func benchLogistic() throws {
    let loaded = try failing { try ModelBundle.load(from: bundle) }
    let models = try failing {
      try loaded.models.models.map { document throws(ArbiterError) in
        try CompiledLogisticModel(document, schema: loaded.schema)
      }
    }
    // 1,000 demo-bank customers as the server stores them (derived features materialized at the
    // demo clock), one per request in turn, each in a context.
    let derivations = try failing { try CompiledDerivations(schema: loaded.schema) }
    let population = DemoPopulation(seed: 42).customers(count: 1_000).map {
      derivations.materialized($0.values, nowDays: 20_412)
    }
    let flat = population.flatMap { $0 }
    let width = loaded.schema.width
    let context = [Float](repeating: 1, count: loaded.schema.contextFeatures.count)
    let layout = ScoringLayout(schema: loaded.schema)
    // The adaptive models' refinement on top: the offline log-odds, the customer's standardised
    // features once per request, and each offer's posterior predictor.
    let adaptive = AdaptiveModels(schema: loaded.schema, customers: nil, nowDays: 20_412)
    let slots = (0..<offers).map { adaptive.slot(key: "offer-\($0)", prior: .offline, policy: AdaptivePolicy())! }
    let inputs = adaptive.columns.count
    // Each timed request: the next customer in turn, in the context.
    var request = 0
    func time(_ score: (UnsafeBufferPointer<Float>, UnsafeBufferPointer<Float>) -> Void) -> [UInt64] {
      flat.withUnsafeBufferPointer { all in
        context.withUnsafeBufferPointer { c in
          LatencySamples.time(requests, warmUp: 100) {
            let x = UnsafeBufferPointer(
              rebasing: all[(request % population.count) * width..<(request % population.count + 1) * width])
            request += 1
            score(x, c)
          }
        }
      }
    }
    var sink = 0.0
    let termByTerm = time { x, c in
      for i in 0..<offers { sink += models[i % models.count].propensity(customer: x, context: c) }
    }
    let prepared = time { x, c in
      ScoringRow.prepare(layout: layout, customer: x, context: c) { row in
        for i in 0..<offers { sink += models[i % models.count].propensity(row: row) }
      }
    }
    let refined = time { x, c in
      ScoringRow.prepare(layout: layout, customer: x, context: c) { row in
        withUnsafeTemporaryAllocation(of: Double.self, capacity: inputs) { s in
          adaptive.standardise(customer: x, into: s)
          for i in 0..<offers {
            let logit = models[i % models.count].logit(row: row)
            sink += sigmoid(adaptive.mean(slot: slots[i], logit: logit, s: UnsafeBufferPointer(s)))
          }
        }
      }
    }
    let terms = models.first!.termCount
    for (label, samples) in [
      ("logistic regression (\(terms) terms), 1 customer × \(offers) offers, term by term", termByTerm),
      ("logistic regression (\(terms) terms), 1 customer × \(offers) offers, prepared row (as Decide scores)", prepared),
      (
        "logistic regression refined by adaptive models (\(adaptive.width) inputs), 1 customer × \(offers) offers, "
          + "prepared row", refined
      ),
    ] {
      print("\(label): \(LatencySamples.summary(samples)) (sink \(sink))")
    }
  }
}
