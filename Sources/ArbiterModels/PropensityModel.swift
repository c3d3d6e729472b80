import ArbiterCore

/// The model that scores one offer: a logistic model or a tree ensemble, behind one interface
/// for scoring and for exact per-feature contributions.
public enum PropensityModel: Sendable {
  case logistic(CompiledLogisticModel)
  case trees(TreeEnsemble, featureNames: [String])

  /// The probability of acceptance.
  @inlinable
  public func propensity(customer: UnsafeBufferPointer<Float>, context: UnsafeBufferPointer<Float>) -> Double {
    switch self {
    case .logistic(let model): model.propensity(customer: customer, context: context)
    case .trees(let model, _): model.probability(customer)
    }
  }

  /// Names of the contribution slots (for trees: every customer feature).
  public var featureNames: [String] {
    switch self {
    case .logistic(let model): model.featureNames
    case .trees(_, let names): names
    }
  }

  /// Exact contributions to the log-odds, one per ``featureNames`` slot.
  public func contributions(customer: UnsafeBufferPointer<Float>, context: UnsafeBufferPointer<Float>, into: inout [Double]) {
    switch self {
    case .logistic(let model): model.contributions(customer: customer, context: context, into: &into)
    case .trees(let model, _):
      for i in into.indices { into[i] = 0 }
      _ = model.contributions(customer, into: &into)
    }
  }

  public var kind: String {
    switch self {
    case .logistic: "logistic"
    case .trees(let model, _): model.convention == .lightGBM ? "lightgbm" : "xgboost"
    }
  }

  /// Terms of a logistic model, split nodes of an ensemble.
  public var size: Int {
    switch self {
    case .logistic(let model): model.termCount
    case .trees(let model, _): model.nodeCount
    }
  }

  /// Hold-out AUC when the bundle records one.
  public var holdoutAUC: Double? {
    switch self {
    case .logistic(let model): model.metrics.holdoutAUC
    case .trees: nil
    }
  }
}
