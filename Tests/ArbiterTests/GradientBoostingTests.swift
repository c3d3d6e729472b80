import ArbiterCore
import ArbiterLearning
import ArbiterModels
import Foundation
import Testing

/// The workbench's gradient-boosted tree trainer: it learns a known signal, writes LightGBM's
/// text format that LightGBM itself loads and scores exactly as Arbiter does, is deterministic
/// whatever the threads, stops early on the best round, and reads exports naming every problem.
@Suite struct GradientBoostingTests {
  /// Rows with a known response: a numeric feature with NaN (missing carries signal), a numeric
  /// one of few values, a categorical one of 8 levels, a boolean, a noise feature.
  static func synthetic(rows: Int, seed: UInt64) -> (LabelledTable, truth: [Double]) {
    var random = SeededGenerator(seed: seed)
    let levels = (0..<8).map { "level\($0)" }
    let schema = FeatureSchema(
      customerFeatures: [
        FeatureDefinition(name: "balance", kind: .numeric, description: "numeric with NaN"),
        FeatureDefinition(name: "products", kind: .numeric, description: "few values"),
        FeatureDefinition(name: "segment", kind: .categorical(levels: levels), description: "categorical"),
        FeatureDefinition(name: "online", kind: .boolean, description: "boolean"),
        FeatureDefinition(name: "noise", kind: .numeric, description: "noise"),
      ], contextFeatures: [])
    var columns = [[Float]](repeating: [], count: 5)
    var labels: [Bool] = []
    var truth: [Double] = []
    let segmentEffect: [Double] = [-1.2, 0.8, 0.1, -0.4, 1.5, -0.9, 0.3, 0.0]
    for _ in 0..<rows {
      let missing = random.chance(0.15)
      let balance = Float(random.normal() * 2)
      let products = Float(random.below(5))
      let segment = random.below(8)
      let online: Float = random.chance(0.4) ? 1 : 0
      let noise = Float(random.uniform() * 100)
      var z = -1.0 + segmentEffect[segment] + 0.6 * Double(online)
      z += missing ? 1.0 : (balance > 1 ? 1.2 : 0.3 * Double(balance))
      z += products == 0 ? -0.8 : 0.2 * Double(products)
      let p = 1 / (1 + exp(-z))
      truth.append(p)
      labels.append(random.chance(p))
      for (f, value) in [missing ? Float.nan : balance, products, Float(segment), online, noise].enumerated() {
        columns[f].append(value)
      }
    }
    return (LabelledTable(schema: schema, columns: columns, labels: labels, lines: Array(2..<(rows + 2))), truth)
  }

  static func parameters(rounds: Int = 40, threads: Int? = nil) -> BoostingParameters {
    var parameters = BoostingParameters()
    parameters.rounds = rounds
    parameters.leaves = 15
    parameters.threads = threads
    return parameters
  }

  @Test func theTrainerLearnsAKnownSignalAlmostAsWellAsTheTruth() throws {
    let (train, _) = Self.synthetic(rows: 20_000, seed: 11)
    let (test, truth) = Self.synthetic(rows: 10_000, seed: 12)
    let forest = try GradientBoostedTrainer(parameters: Self.parameters(rounds: 60)).train(train)
    let learned = BinaryMetrics.auc(scores: forest.probabilities(test), labels: test.labels)
    let oracle = BinaryMetrics.auc(scores: truth, labels: test.labels)
    #expect(learned > oracle - 0.01, "AUC \(learned) against the truth's \(oracle)")
    let importance = forest.importance
    #expect(importance.gain[4] < importance.gain[0] / 10, "noise gains little: \(importance.gain)")
    #expect(importance.splits.allSatisfy { $0 >= 0 } && importance.gain[2] > 0)
  }

  @Test(.timeLimit(.minutes(5))) func lightGBMLoadsTheModelAndScoresItExactlyAsArbiterDoes() async throws {
    let (train, _) = Self.synthetic(rows: 6_000, seed: 21)
    let forest = try GradientBoostedTrainer(parameters: Self.parameters()).train(train)
    let directory = try TestSupport.temporaryDirectory()
    let text = forest.lightGBMText()
    try text.write(toFile: directory + "/model.txt", atomically: true, encoding: .utf8)
    // Rows: real ones, ones with NaN everywhere, and ones exactly on every numeric threshold.
    let (sample, _) = Self.synthetic(rows: 400, seed: 22)
    var rows = (0..<sample.rowCount).map { sample.vector(row: $0) }
    rows.append([Float](repeating: .nan, count: 5))
    rows.append([.nan, 0, .nan, .nan, 0])
    rows.append([0, 0, 9, 1, 0])
    for line in text.split(separator: "\n") where line.hasPrefix("threshold=") {
      for (k, value) in line.dropFirst("threshold=".count).split(separator: " ").enumerated() where k % 3 == 0 {
        if let threshold = Float(value), threshold.isFinite { rows.append([threshold, threshold, 1, 0, threshold]) }
      }
    }
    var csv = forest.schema.customerFeatures.map(\.name).joined(separator: ",") + "\n"
    for row in rows { csv += row.map { $0.isNaN ? "" : "\(Double($0))" }.joined(separator: ",") + "\n" }
    try csv.write(toFile: directory + "/rows.csv", atomically: true, encoding: .utf8)

    let output = try await TestSupport.run(
      "/usr/bin/python3", [TestSupport.repoRoot + "/tools/lightgbm-predict.py", directory + "/model.txt", directory + "/rows.csv"])
    let theirs = output.split(separator: "\n").compactMap { Double($0) }
    try #require(theirs.count == rows.count, "LightGBM printed \(theirs.count) scores for \(rows.count) rows: \(output.suffix(2_000))")
    let imported = try LightGBMImporter.load(text, schema: forest.schema)
    for (k, row) in rows.enumerated() {
      let ours = row.withUnsafeBufferPointer { imported.rawScore($0) }
      #expect(ours.bitPattern == theirs[k].bitPattern, "row \(k) \(row): Arbiter \(ours), LightGBM \(theirs[k])")
      #expect(abs(forest.rawScore(row) - theirs[k]) < 1e-9, "row \(k): trained \(forest.rawScore(row)), LightGBM \(theirs[k])")
    }
  }

  @Test func theModelIsTheSameWhateverTheThreads() throws {
    let (train, _) = Self.synthetic(rows: 8_000, seed: 31)
    let one = try GradientBoostedTrainer(parameters: Self.parameters(threads: 1)).train(train).lightGBMText()
    let two = try GradientBoostedTrainer(parameters: Self.parameters(threads: 2)).train(train).lightGBMText()
    #expect(one == two)
  }

  @Test func earlyStoppingKeepsTheRoundWithTheBestValidationLoss() throws {
    let (train, _) = Self.synthetic(rows: 3_000, seed: 41)
    let (validation, _) = Self.synthetic(rows: 3_000, seed: 42)
    var parameters = Self.parameters(rounds: 400)
    parameters.learningRate = 0.3
    parameters.earlyStoppingRounds = 10
    var losses: [Double] = []
    let forest = try GradientBoostedTrainer(parameters: parameters).train(train, validation: validation) {
      losses.append($0.validationLoss!)
    }
    let best = try #require(forest.bestRound)
    #expect(losses.count < 400 && losses.count == best + 10)
    #expect(forest.treeCount == best)
    #expect(losses[best - 1] == losses.min())
  }

  @Test func logisticRegressionRunsOnTheSamePathAndTreesBeatItOnANonLinearSignal() throws {
    let (train, _) = Self.synthetic(rows: 12_000, seed: 61)
    let (test, truth) = Self.synthetic(rows: 6_000, seed: 62)
    let logistic = try TableModel.train(
      .logistic, table: train, validation: nil, boosting: Self.parameters(), logisticL2: 1)
    let trees = try TableModel.train(.trees, table: train, validation: nil, boosting: Self.parameters(), logisticL2: 1)
    let oracle = BinaryMetrics.auc(scores: truth, labels: test.labels)
    let logisticAUC = BinaryMetrics.auc(scores: logistic.rawScores(test), labels: test.labels)
    let treesAUC = BinaryMetrics.auc(scores: trees.rawScores(test), labels: test.labels)
    #expect(logisticAUC > 0.65 && logisticAUC < oracle, "logistic \(logisticAUC), truth \(oracle)")
    #expect(treesAUC > logisticAUC, "trees \(treesAUC), logistic \(logisticAUC)")
    #expect(logistic.fileName == "model.json" && trees.fileName == "model.txt")
  }

  /// Positives weighted 5× make the trees overstate every probability; Platt scaling fitted on
  /// held-out scores brings the log-loss on fresh rows back down.
  @Test func calibrationFittedOnHeldOutScoresRepairsAnOverconfidentModel() throws {
    let (train, _) = Self.synthetic(rows: 10_000, seed: 71)
    let (heldOut, _) = Self.synthetic(rows: 5_000, seed: 72)
    let (test, _) = Self.synthetic(rows: 5_000, seed: 73)
    var parameters = Self.parameters()
    parameters.positiveWeight = 5
    let model = try TableModel.train(.trees, table: train, validation: nil, boosting: parameters, logisticL2: 1)
    let heldOutScores = model.rawScores(heldOut)
    let platt = try Calibration.fitPlatt(logits: heldOutScores, labels: heldOut.labels)
    let isotonic = try Calibration.fitIsotonic(logits: heldOutScores, labels: heldOut.labels)
    for calibration in [platt, isotonic] {
      let scores = model.rawScores(test)
      let before = BinaryMetrics.logLoss(scores: scores, labels: test.labels)
      let after = BinaryMetrics.logLoss(
        probabilities: scores.map { calibration.probability(logit: $0) }, labels: test.labels)
      #expect(after < before - 0.05, "log-loss \(before) → \(after)")
    }
  }

  @Test func aConstantTargetOrBadSettingIsRefused() throws {
    var (table, _) = Self.synthetic(rows: 100, seed: 51)
    table.labels = [Bool](repeating: false, count: 100)
    #expect(throws: ArbiterError.self) { try GradientBoostedTrainer().train(table) }
    var parameters = BoostingParameters()
    parameters.leaves = 1
    #expect(parameters.problem == "--leaves must be between 2 and 131072")
  }

  static func read(_ text: String, target: String = "y", schema: FeatureSchema? = nil) throws(ArbiterError) -> (
    LabelledTable, TableReader.Inference
  ) {
    var options = TableReader.Options(target: target)
    options.schema = schema
    options.idColumn = text.hasPrefix("id") ? "id" : nil
    return try TableReader.read(text: text, file: "t.csv", options: options)
  }

  static func message(_ text: String, schema: FeatureSchema? = nil) -> String {
    do {
      _ = try read(text, schema: schema)
      return "read"
    } catch { return error.message }
  }

  @Test func theReaderInfersKindsAndNamesEveryProblemByLineAndColumn() throws {
    let (table, inference) = try Self.read(
      """
      id;age;job;"has.loan";score;y
      1;56;"admin.";yes;0.5;no
      2;41;;no;NA;yes
      3;33;blue-collar;no;1e3;no
      """)
    #expect(table.schema.customerFeatures.map(\.name) == ["age", "job", "has_loan", "score"])
    #expect(table.schema.customerFeatures[1].kind == .categorical(levels: ["admin.", "blue-collar"]))
    #expect(table.schema.customerFeatures[2].kind == .boolean)
    #expect(table.labels == [false, true, false])
    #expect(table.columns[1][1].isNaN && table.columns[3][1].isNaN && table.columns[3][2] == 1000)
    #expect(table.ids == ["1", "2", "3"])
    #expect(inference.lines.contains("  has.loan as has_loan: boolean, 0 missing"))
    #expect(inference.delimiter == ";")

    #expect(Self.message("a,y\n1,yes\n2,\n") == "t.csv:3: the target 'y' is missing")
    #expect(Self.message("a,y\n1,yes\n2,yes\n") == "t.csv: the target 'y' is constant ('yes' on every row); nothing to learn")
    #expect(
      Self.message("a,y\n1,yes\n2,no\n3,maybe\n")
        == "t.csv:4: the target 'y' has a third value 'maybe' after 'yes' and 'no'; a binary target has two")
    #expect(
      Self.message("a,y\n1,yes\nx,no\n")
        == "t.csv: column 'a' mixes numbers and text (line 2: '1', line 3: 'x'); give its kind in --schema, "
        + "or name the text as missing with --missing")
    #expect(Self.message("a,y\n1,yes\n") .contains("constant"))
    #expect(Self.message("a,z\n1,yes\n2,no\n").hasPrefix("t.csv: no target column 'y' in the header"))
    let schema = FeatureSchema(
      customerFeatures: [FeatureDefinition(name: "job", kind: .categorical(levels: ["a", "b"]), description: "")],
      contextFeatures: [])
    #expect(
      Self.message("job,y\na,yes\nc,no\n", schema: schema)
        == "t.csv:3: column 'job': unknown level 'c' (the levels are a, b)")
    #expect(Self.message("a,y\n1,yes\n\"2,no\n") == "t.csv:3: quoted field not closed before end of file")
  }
}
