import ArbiterCore
import ArbiterModels

/// The reward model of the direct method and doubly robust estimates: per action, a model of the
/// probability of a reward given the features, trained on the rows that took that action. Cross
/// fitted: the rows are split into folds and each row's predictions come from models that did
/// not see it, so that the model's fit to a row's own noise does not leak into the estimates.
public enum CrossFittedRewards {
  /// `predictions[row][action]`: each row's predicted reward probability for every action.
  /// An action with no positive (or no negative) training row predicts its training mean.
  public static func fit(
    table: LabelledTable, actions: [Int], actionCount: Int, learner: TableModel.Learner, folds: Int = 2,
    seed: UInt64 = 7, boosting: BoostingParameters = BoostingParameters(), logisticL2: Double = 1
  ) throws(ArbiterError) -> [[Double]] {
    precondition(actions.count == table.rowCount)
    let plan = try FoldPlan.kFold(folds, table: table, seed: seed)
    var predictions = [[Double]](repeating: [Double](repeating: 0, count: actionCount), count: table.rowCount)
    for fold in 0..<folds {
      let testing = plan.testing(fold)
      let scored = table.rows(testing)
      let training = plan.training(fold)
      for action in 0..<actionCount {
        let rows = training.filter { actions[$0] == action }
        let positives = rows.lazy.filter { table.labels[$0] }.count
        let values: [Double]
        if positives == 0 || positives == rows.count {
          values = Array(repeating: rows.isEmpty ? 0 : Double(positives) / Double(rows.count), count: testing.count)
        } else {
          let model = try TableModel.train(
            learner, table: table.rows(rows), validation: nil, boosting: boosting, logisticL2: logisticL2)
          values = model.rawScores(scored).map(sigmoid)
        }
        for (k, row) in testing.enumerated() { predictions[row][action] = values[k] }
      }
    }
    return predictions
  }
}
