import ArbiterCore
import ArbiterLearning
import ArbiterModels
import ArgumentParser
import Foundation

/// `arbiter-tools train --csv`: a gradient-boosted tree model from any warehouse export, with
/// cross-validation or a hold-out, written as LightGBM's text model beside its schema.
struct TrainTable {
  var csv: String
  var target: String
  var positive: String?
  var id: String?
  var splitColumn: String?
  var schemaPath: String?
  var ignored: [String]
  var missing: [String]
  var folds: Int?
  var holdout: Double?
  var out: String
  var parameters: BoostingParameters
  var metricsJSON: String?
  var learner: TableModel.Learner = .trees
  var logisticL2 = 1.0
  var calibrate: String?

  func run() throws {
    var options = TableReader.Options(target: target)
    options.positive = positive
    options.idColumn = id
    options.splitColumn = splitColumn
    options.ignored = Set(ignored)
    options.missingValues.formUnion(missing)
    if let schemaPath {
      options.schema = try failing { try Self.readSchema(schemaPath) }
    }
    let started = Date()
    let read = try failing { try TableReader.read(path: csv, options: options) }
    let (table, inference) = (read.0, read.1)
    print(
      "read \(table.rowCount) rows, \(table.featureCount) features, \(table.positiveCount) positive "
        + "in \(String(format: "%.2f", Date().timeIntervalSince(started))) s")
    for line in inference.lines { print(line) }
    func fit(_ rows: LabelledTable, validation: LabelledTable? = nil) throws -> TableModel {
      try failing { try TableModel.train(learner, table: rows, validation: validation, boosting: parameters, logisticL2: logisticL2) }
    }
    // Scores of rows the model did not see (out of fold, or the hold-out), for calibration.
    var heldOutScores: [Double] = []
    var heldOutLabels: [Bool] = []
    var summary: [String: Any] = ["rows": table.rowCount, "features": table.featureCount]

    var finalRows = Array(0..<table.rowCount)
    var validationRows: [Int]?
    if let folds {
      let plan = try failing { try FoldPlan.kFold(folds, table: table, seed: parameters.seed) }
      var aucs: [Double] = []
      var seconds: [Double] = []
      for k in 0..<folds {
        let train = table.rows(plan.training(k)), test = table.rows(plan.testing(k))
        let start = Date()
        let model = try fit(train)
        seconds.append(Date().timeIntervalSince(start))
        let scores = model.rawScores(test)
        heldOutScores += scores
        heldOutLabels += test.labels
        aucs.append(BinaryMetrics.auc(scores: scores, labels: test.labels))
        print(
          "fold \(k + 1)/\(folds): \(train.rowCount) training rows, \(test.rowCount) test rows, "
            + "AUC \(String(format: "%.4f", aucs[k])), trained in \(String(format: "%.3f", seconds[k])) s")
      }
      let mean = aucs.reduce(0, +) / Double(aucs.count)
      print("mean AUC \(String(format: "%.4f", mean)) over \(folds) folds, \(String(format: "%.3f", seconds.reduce(0, +))) s training")
      summary["folds"] = ["auc": aucs, "seconds": seconds, "meanAUC": mean]
    } else if let holdout {
      let plan = try failing { try FoldPlan.holdout(holdout, table: table, seed: parameters.seed) }
      finalRows = plan.training(1)
      validationRows = plan.testing(1)
    }

    let train = table.rows(finalRows)
    let validation = validationRows.map { table.rows($0) }
    let start = Date()
    let model = try fit(train, validation: validation)
    let elapsed = Date().timeIntervalSince(start)
    print("model: \(model.summary) on \(train.rowCount) rows in \(String(format: "%.3f", elapsed)) s")
    summary["finalSeconds"] = elapsed
    if let validation {
      let scores = model.rawScores(validation)
      heldOutScores = scores
      heldOutLabels = validation.labels
      let auc = BinaryMetrics.auc(scores: scores, labels: validation.labels)
      print("hold-out: \(validation.rowCount) rows, AUC \(String(format: "%.4f", auc))")
      summary["holdoutAUC"] = auc
    }
    try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    switch model {
    case .trees(let forest):
      try forest.lightGBMText().write(toFile: out + "/model.txt", atomically: true, encoding: .utf8)
    case .logistic(let document, _):
      try encoder.encode(document).write(to: URL(fileURLWithPath: out + "/model.json"))
    }
    try encoder.encode(table.schema).write(to: URL(fileURLWithPath: out + "/schema.json"))
    print("wrote \(out)/\(model.fileName) and \(out)/schema.json")
    if let calibrate {
      let calibration = try failing {
        calibrate == "platt"
          ? try Calibration.fitPlatt(logits: heldOutScores, labels: heldOutLabels)
          : try Calibration.fitIsotonic(logits: heldOutScores, labels: heldOutLabels)
      }
      let before = heldOutScores.map { 1 / (1 + exp(-$0)) }
      let after = heldOutScores.map { calibration.probability(logit: $0) }
      print(
        "calibration (\(calibrate)) fitted on \(heldOutScores.count) held-out rows: log-loss "
          + "\(String(format: "%.4f", BinaryMetrics.logLoss(probabilities: before, labels: heldOutLabels))) → "
          + "\(String(format: "%.4f", BinaryMetrics.logLoss(probabilities: after, labels: heldOutLabels))) on those rows")
      try encoder.encode(calibration).write(to: URL(fileURLWithPath: out + "/calibration.json"))
      print("wrote \(out)/calibration.json")
    }
    if let metricsJSON {
      try JSONSerialization.data(withJSONObject: summary, options: [.prettyPrinted, .sortedKeys])
        .write(to: URL(fileURLWithPath: metricsJSON))
    }
  }

  static func readSchema(_ path: String) throws(ArbiterError) -> FeatureSchema {
    guard let data = FileManager.default.contents(atPath: path) else {
      throw ArbiterError(.notFound, "\(path): cannot be read")
    }
    do { return try JSONDecoder().decode(FeatureSchema.self, from: data) } catch {
      throw ArbiterError(.invalidArgument, "\(path): not a feature schema (\(error))")
    }
  }
}
