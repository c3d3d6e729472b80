import ArbiterCore
import ArbiterModels
import Foundation
import Testing

/// Parity against real LightGBM 4.6.0 and XGBoost 3.1.3 outputs (fixtures made by
/// tools/make-model-fixtures.py on UCI Bank Marketing): 2,000 real rows, 600 with a quarter of
/// their values missing, 1,200 with a feature set to a split threshold and the float32 values
/// next to it. XGBoost thresholds are data values, so its strict `<` is exercised exactly;
/// LightGBM's are midpoints stored as doubles that no float32 input equals, so there the edge
/// rows check the neighbourhood, not equality.
@Suite struct TreeModelParityTests {
  static let directory = TestSupport.repoRoot + "/Tests/ArbiterTests/Fixtures/models"
  let schema: FeatureSchema
  let rows: [[Float]]
  let expected: [(lightGBM: Double, xgboost: Double, lightGBMProbability: Double, xgboostProbability: Double)]

  init() throws {
    schema = try CanonicalJSON.decode(
      FeatureSchema.self, from: Data(contentsOf: URL(fileURLWithPath: Self.directory + "/schema.json")),
      file: "schema.json")
    let table = try CSVTable(
      text: String(contentsOfFile: Self.directory + "/parity.csv", encoding: .utf8), file: "parity.csv")
    let width = schema.width
    rows = table.rows.map { row in (0..<width).map { row[$0].isEmpty ? Float.nan : Float(row[$0])! } }
    expected = table.rows.map { row in
      (Double(row[width])!, Double(row[width + 2])!, Double(row[width + 1])!, Double(row[width + 3])!)
    }
  }

  func lightGBM() throws -> TreeEnsemble {
    try LightGBMImporter.load(
      String(contentsOfFile: Self.directory + "/lightgbm.txt", encoding: .utf8), schema: schema, file: "lightgbm.txt")
  }

  func xgboost() throws -> TreeEnsemble {
    try XGBoostImporter.load(
      Data(contentsOf: URL(fileURLWithPath: Self.directory + "/xgboost.json")), schema: schema, file: "xgboost.json")
  }

  @Test func lightGBMScoresAreBitIdentical() throws {
    let model = try lightGBM()
    #expect(model.treeCount == 200)
    #expect(rows.count >= 3_000)
    var mismatches = 0
    var nanRows = 0
    // LightGBM's probability is 1.0 / (1.0 + exp(-z)) in double: the same bits, row by row and
    // through the serving path (PropensityModel).
    var probabilityMismatches = 0
    let served = PropensityModel(.trees(model, featureNames: model.featureNames))
    for (row, truth) in zip(rows, expected) {
      let score = row.withUnsafeBufferPointer { model.rawScore($0) }
      if score.bitPattern != truth.lightGBM.bitPattern {
        if mismatches < 5 { Issue.record("row \(row): Arbiter \(score), LightGBM \(truth.lightGBM)") }
        mismatches += 1
      }
      if row.contains(where: \.isNaN) { nanRows += 1 }
      let probability = row.withUnsafeBufferPointer { model.probability($0) }
      let propensity = row.withUnsafeBufferPointer { x in
        [Float]().withUnsafeBufferPointer { served.propensity(customer: x, context: $0) }
      }
      if probability != truth.lightGBMProbability || propensity != truth.lightGBMProbability {
        if probabilityMismatches < 5 {
          Issue.record("raw \(score): Arbiter \(probability) (\(propensity)), LightGBM \(truth.lightGBMProbability)")
        }
        probabilityMismatches += 1
      }
    }
    #expect(mismatches == 0)
    #expect(probabilityMismatches == 0)
    #expect(nanRows > 500, "the fixtures exercise missing values")
  }

  @Test func xgboostScoresMatchWithin1e6() throws {
    let model = try xgboost()
    #expect(model.treeCount == 200)
    var worst = 0.0
    // XGBoost's probability is its float32 sigmoid of its float32 margin: from XGBoost's own
    // margin the same bits, and from Arbiter's wherever the margins agree to the bit.
    var probabilityMismatches = 0
    var sameMargin = 0
    let served = PropensityModel(.trees(model, featureNames: model.featureNames))
    for (row, truth) in zip(rows, expected) {
      let score = row.withUnsafeBufferPointer { model.rawScore($0) }
      worst = max(worst, abs(score - truth.xgboost))
      var agrees = model.probability(rawScore: truth.xgboost) == truth.xgboostProbability
      if score == truth.xgboost {
        sameMargin += 1
        let propensity = row.withUnsafeBufferPointer { x in
          [Float]().withUnsafeBufferPointer { served.propensity(customer: x, context: $0) }
        }
        agrees =
          agrees && row.withUnsafeBufferPointer { model.probability($0) } == truth.xgboostProbability
          && propensity == truth.xgboostProbability
      }
      if !agrees {
        if probabilityMismatches < 5 {
          let arbiter = model.probability(rawScore: truth.xgboost)
          Issue.record("margin \(truth.xgboost): Arbiter \(arbiter), XGBoost \(truth.xgboostProbability)")
        }
        probabilityMismatches += 1
      }
    }
    #expect(worst < 1e-6, "largest margin difference \(worst)")
    #expect(probabilityMismatches == 0)
    // All 3,800 margins agree to the bit today, so every row checks Arbiter's own probability too.
    #expect(sameMargin == rows.count, "\(sameMargin) of \(rows.count) margins bit-identical")
  }

  /// XGBoost's own probabilities over margins from -121 to 39 (sigmoid.csv, made with per-row
  /// base margins): its float32 sigmoid, clamped below -88.7 (3.0e-39 there, not 0), widened to
  /// Double, bit for bit.
  @Test func xgboostSigmoidIsBitIdenticalOverMargins() throws {
    let model = try xgboost()
    let table = try CSVTable(
      text: String(contentsOfFile: Self.directory + "/sigmoid.csv", encoding: .utf8), file: "sigmoid.csv")
    let sweep = table.rows.map { (margin: Double($0[0])!, probability: Double($0[1])!) }
    #expect(sweep.count == 1_601)
    #expect(sweep.filter { $0.margin < -88.7 }.count > 300, "the sweep reaches XGBoost's clamp")
    #expect(sweep.filter { $0.margin > 20 }.count > 100)
    var mismatches = 0
    for (margin, truth) in sweep where model.probability(rawScore: margin) != truth {
      if mismatches < 5 {
        Issue.record("margin \(margin): Arbiter \(model.probability(rawScore: margin)), XGBoost \(truth)")
      }
      mismatches += 1
    }
    #expect(mismatches == 0)
  }

  /// The QuickScorer batch path gives the same bits as the one-row reference walk.
  @Test func batchScoringEqualsRowScoring() throws {
    for model in [try lightGBM(), try xgboost()] {
      // Both fixtures must take the fast path, or this test would only compare the walk with itself.
      #expect(
        model.quickScorerWidth == (model.convention == .lightGBM ? 32 : 64), "LightGBM: 31 leaves; XGBoost: up to 64")
      let flat = rows.flatMap { $0 }
      var batch = [Double](repeating: 0, count: rows.count)
      flat.withUnsafeBufferPointer { x in
        batch.withUnsafeMutableBufferPointer {
          model.rawScores(rows: x.baseAddress!, count: rows.count, width: schema.width, into: $0.baseAddress!)
        }
      }
      for (i, row) in rows.enumerated() {
        let single = row.withUnsafeBufferPointer { model.rawScore($0) }
        #expect(batch[i].bitPattern == single.bitPattern, "row \(i)")
        if batch[i].bitPattern != single.bitPattern { break }
      }
      if model.convention == .lightGBM {
        #expect(zip(batch, expected).allSatisfy { $0.bitPattern == $1.lightGBM.bitPattern })
      }
      // Partial groups of eight lanes (1, 7, 9, 13 rows) from different starting rows.
      for (start, count) in [(0, 1), (5, 7), (100, 9), (3001, 13)] {
        let part = rows[start..<(start + count)].flatMap { $0 }
        var scores = [Double](repeating: .nan, count: count)
        part.withUnsafeBufferPointer { x in
          scores.withUnsafeMutableBufferPointer {
            model.rawScores(rows: x.baseAddress!, count: count, width: schema.width, into: $0.baseAddress!)
          }
        }
        for k in 0..<count {
          #expect(scores[k].bitPattern == batch[start + k].bitPattern, "rows \(start)+\(k) of \(count)")
        }
      }
    }
  }

  /// The 46-feature one-hot LightGBM model (tools/make-wide-model-fixture.py): batch and row
  /// scores bit-identical to LightGBM's own.
  @Test func wideLightGBMScoresAreBitIdentical() throws {
    let directory = Self.directory + "/wide"
    let wideSchema = try CanonicalJSON.decode(
      FeatureSchema.self, from: Data(contentsOf: URL(fileURLWithPath: directory + "/schema.json")), file: "schema.json")
    #expect(wideSchema.width == 46)
    let model = try LightGBMImporter.load(
      String(contentsOfFile: directory + "/lightgbm.txt", encoding: .utf8), schema: wideSchema)
    #expect(model.quickScorerWidth == 32)
    let table = try CSVTable(
      text: String(contentsOfFile: directory + "/parity.csv", encoding: .utf8), file: "parity.csv")
    let wideRows = table.rows.map { row in (0..<wideSchema.width).map { row[$0].isEmpty ? Float.nan : Float(row[$0])! }
    }
    let truth = table.rows.map { Double($0[wideSchema.width])! }
    let flat = wideRows.flatMap { $0 }
    var batch = [Double](repeating: .nan, count: wideRows.count)
    flat.withUnsafeBufferPointer { x in
      batch.withUnsafeMutableBufferPointer {
        model.rawScores(rows: x.baseAddress!, count: wideRows.count, width: wideSchema.width, into: $0.baseAddress!)
      }
    }
    var mismatches = 0
    for (i, row) in wideRows.enumerated() {
      let single = row.withUnsafeBufferPointer { model.rawScore($0) }
      if single.bitPattern != truth[i].bitPattern || batch[i].bitPattern != truth[i].bitPattern { mismatches += 1 }
    }
    #expect(wideRows.count == 1_200)
    #expect(mismatches == 0)
  }

  /// Exact contributions match each library's own `pred_contrib` (TreeSHAP), and with the bias
  /// they add up to the raw score.
  @Test func contributionsMatchTheLibraries() throws {
    let table = try CSVTable(
      text: String(contentsOfFile: Self.directory + "/contributions.csv", encoding: .utf8), file: "contributions.csv")
    let width = schema.width
    for (k, model) in [try lightGBM(), try xgboost()].enumerated() {
      var worst = 0.0
      for (r, values) in table.rows.enumerated() {
        let truth = values[(k * (width + 1))..<((k + 1) * (width + 1))].map { Double($0)! }
        var phi = [Double](repeating: 0, count: width)
        let bias = rows[r].withUnsafeBufferPointer { model.contributions($0, into: &phi) }
        for f in 0..<width { worst = max(worst, abs(phi[f] - truth[f])) }
        worst = max(worst, abs(bias - truth[width]))
        let raw = rows[r].withUnsafeBufferPointer { model.rawScore($0) }
        // LightGBM's raw score is a double sum; XGBoost's a float32 one (about 1e-6 of rounding).
        let tolerance = model.convention == .lightGBM ? 1e-9 : 1e-5
        #expect(abs(phi.reduce(bias, +) - raw) < tolerance, "row \(r): contributions do not add up")
      }
      #expect(worst < (model.convention == .lightGBM ? 1e-9 : 1e-5), "\(model.convention): largest difference \(worst)")
    }
  }

  @Test func badModelsAreRefusedNamingTheProblem() throws {
    let text = try String(contentsOfFile: Self.directory + "/lightgbm.txt", encoding: .utf8)
    #expect(throws: ArbiterError(.dataCorrupted, "m.txt: truncated (no 'end of trees' line after 100 trees)")) {
      let cut = text.range(of: "Tree=100\n")!.lowerBound
      try LightGBMImporter.load(String(text[..<cut]), schema: schema, file: "m.txt")
    }
    var renamed = schema
    renamed.customerFeatures[3].name = "previous_contacts"
    #expect(
      throws: ArbiterError(.failedPrecondition, "m.txt: the model uses feature 'previous', which the schema lacks")
    ) {
      try LightGBMImporter.load(text, schema: renamed, file: "m.txt")
    }
    #expect(
      throws: ArbiterError(.failedPrecondition, "m.json: the model uses feature 'previous', which the schema lacks")
    ) {
      try XGBoostImporter.load(
        Data(contentsOf: URL(fileURLWithPath: Self.directory + "/xgboost.json")), schema: renamed, file: "m.json")
    }
    let broken = text.replacingOccurrences(of: "left_child=1 13 3", with: "left_child=1 99 3")
    #expect(throws: ArbiterError(.dataCorrupted, "m.txt: tree 0: child node 99 does not exist")) {
      try LightGBMImporter.load(broken, schema: schema, file: "m.txt")
    }
    #expect(throws: ArbiterError(.dataCorrupted, "m.txt: not a LightGBM text model (no version or feature_names)")) {
      try LightGBMImporter.load("hello", schema: schema, file: "m.txt")
    }
    let json = try Data(contentsOf: URL(fileURLWithPath: Self.directory + "/xgboost.json"))
    do {
      _ = try XGBoostImporter.load(json.prefix(json.count / 2), schema: schema, file: "m.json")
      Issue.record("a truncated XGBoost model loaded")
    } catch {
      #expect(error.code == .dataCorrupted)
      #expect(error.message.hasPrefix("m.json: "))
    }
  }
}
