import ArbiterCore
import ArbiterModels

/// A model of the incremental effect of an offer, p(respond | offered) − p(respond | not
/// offered), trained on a randomised campaign's treated and control customers.
public enum UpliftModel: Sendable {
  /// One response model on the treated, one on the control group; the uplift is their difference.
  case twoModel(treated: TableModel, control: TableModel)
  /// One model of the transformed class z (1 for a treated responder or a control non-responder):
  /// with treatment given to half the customers at random, uplift = 2 p(z) − 1.
  case classTransformation(TableModel)

  /// How to model the uplift.
  public enum Approach: String, Sendable, CaseIterable {
    case twoModel = "two-model"
    case classTransformation = "class-transformation"
  }

  /// What the model says about rows: the uplift, and for a two-model one both probabilities.
  public struct Prediction: Sendable {
    public var uplift: [Double]
    public var treated: [Double]?
    public var control: [Double]?
  }

  /// Trains by `approach` with `learner` models.
  public static func train(
    _ approach: Approach, on data: UpliftTable, learner: TableModel.Learner, boosting: BoostingParameters,
    logisticL2: Double
  ) throws(ArbiterError) -> UpliftModel {
    switch approach {
    case .twoModel:
      let treatedRows = data.treated.indices.filter { data.treated[$0] }
      let controlRows = data.treated.indices.filter { !data.treated[$0] }
      return .twoModel(
        treated: try TableModel.train(
          learner, table: data.table.rows(treatedRows), validation: nil, boosting: boosting, logisticL2: logisticL2),
        control: try TableModel.train(
          learner, table: data.table.rows(controlRows), validation: nil, boosting: boosting, logisticL2: logisticL2))
    case .classTransformation:
      var transformed = data.table
      transformed.labels = zip(data.table.labels, data.treated).map { label, treated in label == treated }
      return .classTransformation(
        try TableModel.train(learner, table: transformed, validation: nil, boosting: boosting, logisticL2: logisticL2))
    }
  }

  /// The uplift of every row of a table with the model's features.
  public func predict(_ table: LabelledTable) -> Prediction {
    switch self {
    case .twoModel(let treated, let control):
      let p1 = treated.rawScores(table).map(sigmoid)
      let p0 = control.rawScores(table).map(sigmoid)
      return Prediction(uplift: zip(p1, p0).map { $0 - $1 }, treated: p1, control: p0)
    case .classTransformation(let model):
      return Prediction(uplift: model.rawScores(table).map { 2 * sigmoid($0) - 1 }, treated: nil, control: nil)
    }
  }
}
