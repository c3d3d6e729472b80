import ArbiterCore
import ArbiterModels
import Foundation
import Testing

/// Parity with real LightGBM 4.6.0 for a model whose trees split at threshold `inf` (fixtures made
/// by tools/make-infinite-threshold-fixture.py): a feature that is either 0 or missing gives
/// "missing against everything else" splits of missing type NaN, `x <= inf` sending every present
/// value (+inf and -inf included) left and NaN the default way. 650 rows, with NaN, +inf, -inf, 0
/// and -0 in each feature and values on and next to the finite thresholds.
@Suite struct InfiniteThresholdParityTests {
  static let directory = TestSupport.repoRoot + "/Tests/ArbiterTests/Fixtures/models/infinite-threshold"
  let schema: FeatureSchema
  let text: String
  let rows: [[Float]]
  let expected: [(raw: Double, probability: Double)]

  init() throws {
    let fixture = try LightGBMFixture(directory: Self.directory)
    (schema, text, rows, expected) = (fixture.schema, fixture.text, fixture.rows, fixture.expected)
  }

  func model() throws -> TreeEnsemble {
    try LightGBMImporter.load(text, schema: schema, file: "lightgbm.txt")
  }

  /// The fixture holds what the tests are about: `inf` thresholds of missing type NaN, and rows
  /// with missing and infinite values in the feature they split on.
  @Test func fixtureHasInfiniteThresholdsAndSpecialValues() throws {
    let thresholds = text.split(separator: "\n").filter { $0.hasPrefix("threshold=") }
    let infinite = thresholds.reduce(0) { $0 + $1.split(separator: " ").filter { $0.hasSuffix("inf") }.count }
    #expect(infinite > 5)
    let complaint = try #require(schema.customerIndex(of: "complaint"))
    #expect(rows.filter { $0[complaint] == .infinity }.count >= 8)
    #expect(rows.filter { $0[complaint] == -.infinity }.count >= 8)
    #expect(rows.filter { $0[complaint].isNaN }.count > 100)
    #expect(rows.filter { $0[complaint] == 0 }.count > 50)
    #expect(rows.filter { $0.contains(.infinity) || $0.contains(-.infinity) }.count >= 48)
  }

  /// The model loads, and the reference walk gives LightGBM's raw score bit for bit.
  @Test func rowScoresAreBitIdentical() throws {
    let model = try model()
    #expect(model.treeCount == 40)
    #expect(rows.count == 650)
    var mismatches = 0
    for (row, truth) in zip(rows, expected) {
      let score = row.withUnsafeBufferPointer { model.rawScore($0) }
      if score.bitPattern != truth.raw.bitPattern {
        if mismatches < 5 { Issue.record("row \(row): Arbiter \(score), LightGBM \(truth.raw)") }
        mismatches += 1
      }
    }
    #expect(mismatches == 0)
  }

  /// LightGBM's probability (1.0 / (1.0 + exp(-z)) in double) bit for bit, margins down to -9.5
  /// included, row by row and through the serving path (PropensityModel).
  @Test func probabilitiesAreBitIdentical() throws {
    let model = try model()
    let served = PropensityModel(.trees(model, featureNames: model.featureNames))
    #expect(expected.filter { $0.raw < -8 }.count >= 5, "the fixture has strongly negative margins")
    var mismatches = 0
    for (row, truth) in zip(rows, expected) {
      let probability = row.withUnsafeBufferPointer { model.probability($0) }
      let propensity = row.withUnsafeBufferPointer { x in
        [Float]().withUnsafeBufferPointer { served.propensity(customer: x, context: $0) }
      }
      if probability != truth.probability || propensity != truth.probability {
        if mismatches < 5 { Issue.record("raw \(truth.raw): Arbiter \(probability), LightGBM \(truth.probability)") }
        mismatches += 1
      }
    }
    #expect(mismatches == 0)
  }

  /// The QuickScorer batch path takes the model (8 leaves: 32-bit bitvectors) and gives the same bits.
  @Test func batchScoresAreBitIdentical() throws {
    let model = try model()
    #expect(model.quickScorerWidth == 32)
    let width = schema.width
    let flat = rows.flatMap { $0 }
    var batch = [Double](repeating: .nan, count: rows.count)
    flat.withUnsafeBufferPointer { x in
      batch.withUnsafeMutableBufferPointer {
        model.rawScores(rows: x.baseAddress!, count: rows.count, width: width, into: $0.baseAddress!)
      }
    }
    var mismatches = 0
    for (i, truth) in expected.enumerated() where batch[i].bitPattern != truth.raw.bitPattern {
      if mismatches < 5 { Issue.record("row \(i) \(rows[i]): batch \(batch[i]), LightGBM \(truth.raw)") }
      mismatches += 1
    }
    #expect(mismatches == 0)
  }

  /// Exact contributions match LightGBM's own `pred_contrib` and add up to the raw score.
  @Test func contributionsMatchLightGBM() throws {
    let model = try model()
    let table = try CSVTable(
      text: String(contentsOfFile: Self.directory + "/contributions.csv", encoding: .utf8), file: "contributions.csv")
    let width = schema.width
    #expect(table.rows.count == rows.count)
    var worst = 0.0
    for (r, values) in table.rows.enumerated() {
      let truth = values.map { Double($0)! }
      var phi = [Double](repeating: 0, count: width)
      let bias = rows[r].withUnsafeBufferPointer { model.contributions($0, into: &phi) }
      for f in 0..<width { worst = max(worst, abs(phi[f] - truth[f])) }
      worst = max(worst, abs(bias - truth[width]))
      #expect(abs(phi.reduce(bias, +) - expected[r].raw) < 1e-9, "row \(r): contributions do not add up")
    }
    #expect(worst < 1e-9, "largest difference \(worst)")
  }

  /// Other non-finite thresholds are still refused, naming the node.
  @Test func nanAndNegativeInfiniteThresholdsAreRefused() throws {
    let line = try #require(text.split(separator: "\n").first { $0.hasPrefix("threshold=inf ") })
    for bad in ["nan", "-inf"] {
      let broken = text.replacingOccurrences(of: String(line), with: "threshold=\(bad) " + line.dropFirst(14))
      #expect(throws: ArbiterError(.dataCorrupted, "m.txt: tree 0: node 0 has a non-finite threshold (\(bad))")) {
        try LightGBMImporter.load(broken, schema: schema, file: "m.txt")
      }
    }
  }
}
