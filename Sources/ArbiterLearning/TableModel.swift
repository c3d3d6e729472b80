import ArbiterCore
import ArbiterModels

/// A model trained on a ``LabelledTable``: gradient-boosted trees or a logistic regression, each
/// scoring rows as raw log-odds and written in its own file format.
public enum TableModel: Sendable {
  /// Trees, written as LightGBM's text format (`model.txt`).
  case trees(BoostedForest)
  /// A logistic regression (Arbiter's model document, `model.json`) and its compiled scorer.
  case logistic(LogisticModelDocument, CompiledLogisticModel)

  /// Which learner to train.
  public enum Learner: String, Sendable, CaseIterable {
    case trees, logistic
  }

  /// Trains a model of `learner`'s kind on `table`, validating (trees: early stopping) on `validation`.
  public static func train(
    _ learner: Learner, table: LabelledTable, validation: LabelledTable?, boosting: BoostingParameters,
    logisticL2: Double
  ) throws(ArbiterError) -> TableModel {
    switch learner {
    case .trees:
      return .trees(try GradientBoostedTrainer(parameters: boosting).train(table, validation: validation))
    case .logistic:
      var trainer = LogisticTrainer()
      trainer.l2 = logisticL2
      trainer.holdoutFraction = 0
      var data = TrainingSet(customerWidth: table.featureCount, contextWidth: 0)
      for row in 0..<table.rowCount {
        data.append(customer: table.vector(row: row), context: [], label: table.labels[row], group: UInt64(row))
      }
      let document = try trainer.train(offerId: "model", schema: table.schema, data: data)
      return .logistic(document, try CompiledLogisticModel(document, schema: table.schema))
    }
  }

  /// The raw log-odds of every row of a table with the model's features.
  public func rawScores(_ table: LabelledTable) -> [Double] {
    var row = [Float](repeating: 0, count: table.featureCount)
    return (0..<table.rowCount).map { r in
      for f in 0..<table.featureCount { row[f] = table.columns[f][r] }
      switch self {
      case .trees(let forest): return forest.rawScore(row)
      case .logistic(_, let compiled):
        return row.withUnsafeBufferPointer { x in
          [Float]().withUnsafeBufferPointer { compiled.logit(customer: x, context: $0) }
        }
      }
    }
  }

  /// The model file's name in an output directory.
  public var fileName: String {
    switch self {
    case .trees: "model.txt"
    case .logistic: "model.json"
    }
  }

  /// A line describing the model.
  public var summary: String {
    switch self {
    case .trees(let forest):
      "\(forest.treeCount) trees" + (forest.bestRound.map { ", stopped early at round \($0)" } ?? "")
    case .logistic(let document, _): "logistic regression, \(document.terms.count) terms"
    }
  }
}
