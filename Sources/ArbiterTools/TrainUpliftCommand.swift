import ArbiterCore
import ArbiterLearning
import ArbiterModels
import ArgumentParser
import Foundation

/// `arbiter-tools train-uplift`: a model of an offer's incremental effect from a randomised
/// campaign's treated and control customers, evaluated by its Qini curve on a hold-out.
struct TrainUplift: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "train-uplift",
    abstract: "Train an uplift model (two-model or class transformation) on a randomised campaign's export.",
    discussion: """
      The CSV has the features, the arm of each customer (--treatment: --treated or --control; rows of other arms \\
      are left out and counted) and the binary outcome (--target). A share of the rows (--holdout, stratified by \\
      nothing but a seeded draw) is held out; the model trained on the rest is evaluated there by its Qini curve, \\
      Qini coefficient, uplift in the top 30% and observed uplift by decile. Writes to --out: report.html (the \\
      evaluation report's style), metrics.json, the models (two-model: treated.txt and control.txt, or .json for \\
      logistic; class transformation: model.txt) with schema.json, and scores.csv (the hold-out's predicted uplift, \\
      arm and outcome; tools/uplift-reference.py recomputes the metrics from it with scikit-uplift) and split.csv (which \\
      rows were held out). Two-model \\
      files are what a bundle's uplift arbitration reads: the treated model as the offer's, the control model as \\
      the offer's control model.
      """)

  @Option(help: "The CSV export.") var csv: String
  @Option(help: "The column naming each customer's arm.") var treatment: String
  @Option(help: "The treated arm's value.") var treated: String
  @Option(help: "The control arm's value.") var control: String
  @Option(help: "The binary outcome column.") var target: String
  @Option(help: "The outcome's positive value (default: 1, yes, true, y or t).") var positive: String?
  @Option(help: "Columns that are not features, comma-separated.") var ignore: String?
  @Option(help: "two-model or class-transformation.") var approach: UpliftModel.Approach = .twoModel
  @Option(help: "trees or logistic.") var learner: TableModel.Learner = .trees
  @Option(help: "The share of rows held out for the evaluation.") var holdout = 0.3
  @Option(help: "Boosting rounds (trees).") var rounds = 100
  @Option(name: .customLong("learning-rate"), help: "Learning rate (trees).") var learningRate = 0.05
  @Option(help: "Leaves per tree (trees).") var leaves = 15
  @Option(name: .customLong("min-data-in-leaf"), help: "Rows per leaf at least (trees).") var minDataInLeaf = 100
  @Option(name: .customLong("l2"), help: "L2 penalty (logistic).") var logisticL2 = 1.0
  @Option(help: "The seed of the hold-out draw and the trees.") var seed: UInt64 = 7
  @Option(help: "Output directory.") var out = "uplift"

  func run() throws {
    var options = UpliftTable.Options(
      treatmentColumn: treatment, treatedValue: treated, controlValue: control, target: target)
    options.positive = positive
    options.ignored = Set((ignore ?? "").split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) })
    let (data, inference) = try failing { try UpliftTable.read(path: csv, options: options) }
    let treatedCount = data.treated.lazy.filter { $0 }.count
    print(
      "\(csv): \(data.table.rowCount) rows (\(treatedCount) treated, \(data.table.rowCount - treatedCount) control; "
        + "\(data.otherArms) of other arms left out), \(data.table.featureCount) features")
    for line in inference.lines { print(line) }
    let share = Double(treatedCount) / Double(data.table.rowCount)
    if approach == .classTransformation && abs(share - 0.5) > 0.05 {
      print(
        "warning: \(String(format: "%.0f%%", share * 100)) of the rows are treated; the class transformation assumes half"
      )
    }
    let plan = try failing { try FoldPlan.holdout(holdout, table: data.table, seed: seed) }
    let training = data.rows(plan.testing(0)), heldOut = data.rows(plan.testing(1))
    var parameters = BoostingParameters()
    parameters.rounds = rounds
    parameters.learningRate = learningRate
    parameters.leaves = leaves
    parameters.minimumRowsPerLeaf = minDataInLeaf
    parameters.seed = seed
    let started = Date()
    let model = try failing {
      try UpliftModel.train(approach, on: training, learner: learner, boosting: parameters, logisticL2: logisticL2)
    }
    let seconds = Date().timeIntervalSince(started)
    let prediction = model.predict(heldOut.table)
    let evaluation = UpliftEvaluation.evaluate(
      uplift: prediction.uplift, treated: heldOut.treated, outcome: heldOut.table.labels)
    print(
      String(
        format: "trained on %d rows in %.2f s; on %d held-out rows: Qini coefficient %.4f, uplift in the top 30%% "
          + "%+.2f pp, average effect %+.2f pp", training.table.rowCount, seconds, heldOut.table.rowCount,
        evaluation.qiniCoefficient, evaluation.upliftAt30 * 100, evaluation.averageEffect * 100))
    try write(
      model, evaluation: evaluation, heldOut: heldOut, prediction: prediction, data: data,
      heldOutMask: plan.folds.map { $0 == 1 })
  }

  private func write(
    _ model: UpliftModel, evaluation: UpliftEvaluation, heldOut: UpliftTable, prediction: UpliftModel.Prediction,
    data: UpliftTable, heldOutMask: [Bool]
  ) throws {
    try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    try encoder.encode(data.table.schema).write(to: URL(fileURLWithPath: out + "/schema.json"))
    func save(_ model: TableModel, as name: String) throws {
      let file = out + "/" + name + (model.fileName.hasSuffix(".txt") ? ".txt" : ".json")
      switch model {
      case .trees(let forest): try forest.lightGBMText().write(toFile: file, atomically: true, encoding: .utf8)
      case .logistic(let document, _): try encoder.encode(document).write(to: URL(fileURLWithPath: file))
      }
    }
    let description: String
    switch model {
    case .twoModel(let treatedModel, let controlModel):
      try save(treatedModel, as: "treated")
      try save(controlModel, as: "control")
      description = "two models (\(treatedModel.summary); \(controlModel.summary))"
    case .classTransformation(let single):
      try save(single, as: "model")
      description = "class transformation (\(single.summary))"
    }
    var scores = "uplift,treated,outcome\n"
    for row in 0..<heldOut.table.rowCount {
      scores +=
        String(format: "%.17g", prediction.uplift[row]) + (heldOut.treated[row] ? ",1," : ",0,")
        + (heldOut.table.labels[row] ? "1\n" : "0\n")
    }
    try scores.write(toFile: out + "/scores.csv", atomically: true, encoding: .utf8)
    // Which of the kept rows (in file order) were held out, for a reference trained on the same split.
    let split = "held_out\n" + heldOutMask.map { $0 ? "1" : "0" }.joined(separator: "\n") + "\n"
    try split.write(toFile: out + "/split.csv", atomically: true, encoding: .utf8)
    var metrics = encoder
    metrics.keyEncodingStrategy = .convertToSnakeCase
    metrics.nonConformingFloatEncodingStrategy = .convertToString(
      positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    try metrics.encode(evaluation).write(to: URL(fileURLWithPath: out + "/metrics.json"))
    let name = (csv as NSString).lastPathComponent
    var report = EvaluationReport(
      data: "\(name): \(heldOut.table.rowCount) held-out rows of \(data.table.rowCount)", sections: [])
    report.upliftSections = [
      .init(
        title: "\(treated) against \(control), on \(target)",
        model: "\(approach.rawValue): \(description), \(learner.rawValue)", evaluation: evaluation)
    ]
    try report.html().write(toFile: out + "/report.html", atomically: true, encoding: .utf8)
    print("wrote \(out)/report.html, metrics.json, scores.csv and the models")
  }
}

extension UpliftModel.Approach: ExpressibleByArgument {}
