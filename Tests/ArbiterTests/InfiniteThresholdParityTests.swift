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
  let fixture: LightGBMFixture

  init() throws {
    fixture = try LightGBMFixture(directory: Self.directory)
  }

  func model() throws -> TreeEnsemble {
    try LightGBMImporter.load(fixture.text, schema: fixture.schema, file: "lightgbm.txt")
  }

  /// The fixture holds what the tests are about: `inf` thresholds of missing type NaN, and rows
  /// with missing and infinite values in the feature they split on.
  @Test func fixtureHasInfiniteThresholdsAndSpecialValues() throws {
    let thresholds = fixture.text.split(separator: "\n").filter { $0.hasPrefix("threshold=") }
    let infinite = thresholds.reduce(0) { $0 + $1.split(separator: " ").filter { $0.hasSuffix("inf") }.count }
    #expect(infinite > 5)
    let complaint = try #require(fixture.schema.customerIndex(of: "complaint"))
    #expect(fixture.rows.filter { $0[complaint] == .infinity }.count >= 8)
    #expect(fixture.rows.filter { $0[complaint] == -.infinity }.count >= 8)
    #expect(fixture.rows.filter { $0[complaint].isNaN }.count > 100)
    #expect(fixture.rows.filter { $0[complaint] == 0 }.count > 50)
    #expect(fixture.rows.filter { $0.contains(.infinity) || $0.contains(-.infinity) }.count >= 48)
  }

  /// The model loads, and the reference walk gives LightGBM's raw score bit for bit.
  @Test func rowScoresAreBitIdentical() throws {
    let model = try model()
    #expect(model.treeCount == 40)
    #expect(fixture.rows.count == 650)
    var mismatches = 0
    for (row, truth) in zip(fixture.rows, fixture.expected) {
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
    #expect(fixture.expected.filter { $0.raw < -8 }.count >= 5, "the fixture has strongly negative margins")
    var mismatches = 0
    for (row, truth) in zip(fixture.rows, fixture.expected) {
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
    let width = fixture.schema.width
    let flat = fixture.rows.flatMap { $0 }
    var batch = [Double](repeating: .nan, count: fixture.rows.count)
    flat.withUnsafeBufferPointer { x in
      batch.withUnsafeMutableBufferPointer {
        model.rawScores(rows: x.baseAddress!, count: fixture.rows.count, width: width, into: $0.baseAddress!)
      }
    }
    var mismatches = 0
    for (i, truth) in fixture.expected.enumerated() where batch[i].bitPattern != truth.raw.bitPattern {
      if mismatches < 5 { Issue.record("row \(i) \(fixture.rows[i]): batch \(batch[i]), LightGBM \(truth.raw)") }
      mismatches += 1
    }
    #expect(mismatches == 0)
  }

  /// Exact contributions match LightGBM's own `pred_contrib` and add up to the raw score.
  @Test func contributionsMatchLightGBM() throws {
    let model = try model()
    let table = try CSVTable(
      text: String(contentsOfFile: Self.directory + "/contributions.csv", encoding: .utf8), file: "contributions.csv")
    let width = fixture.schema.width
    #expect(table.rows.count == fixture.rows.count)
    var worst = 0.0
    for (r, values) in table.rows.enumerated() {
      let truth = values.map { Double($0)! }
      var phi = [Double](repeating: 0, count: width)
      let bias = fixture.rows[r].withUnsafeBufferPointer { model.contributions($0, into: &phi) }
      for f in 0..<width { worst = max(worst, abs(phi[f] - truth[f])) }
      worst = max(worst, abs(bias - truth[width]))
      #expect(abs(phi.reduce(bias, +) - fixture.expected[r].raw) < 1e-9, "row \(r): contributions do not add up")
    }
    #expect(worst < 1e-9, "largest difference \(worst)")
  }

  /// Other non-finite thresholds are still refused, naming the node.
  @Test func nanAndNegativeInfiniteThresholdsAreRefused() throws {
    let line = try #require(fixture.text.split(separator: "\n").first { $0.hasPrefix("threshold=inf ") })
    for bad in ["nan", "-inf"] {
      let broken = fixture.text.replacingOccurrences(of: String(line), with: "threshold=\(bad) " + line.dropFirst(14))
      #expect(throws: ArbiterError(.dataCorrupted, "m.txt: tree 0: node 0 has a non-finite threshold (\(bad))")) {
        try LightGBMImporter.load(broken, schema: fixture.schema, file: "m.txt")
      }
    }
  }
}
