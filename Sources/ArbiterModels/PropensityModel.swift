import ArbiterCore

/// The model that scores one offer: a logistic model or a tree ensemble, behind one interface
/// for scoring and for exact per-feature contributions. A class: a decision touches it through
/// one reference instead of copying (and retaining) the compiled model's arrays.
public final class PropensityModel: Sendable {
  /// What computes the model's raw log-odds.
  public enum Scorer: Sendable {
    /// A logistic regression compiled against the schema.
    case logistic(CompiledLogisticModel)
    /// A LightGBM or XGBoost tree ensemble, with the names of the features it reads (for reason codes).
    case trees(TreeEnsemble, featureNames: [String])
  }

  /// What computes the raw log-odds, before calibration.
  public let scorer: Scorer
  /// Applied to the scorer's log-odds; nil uses the logistic function.
  public let calibration: Calibration?

  /// A model from a scorer and an optional calibration of its log-odds.
  public init(_ scorer: Scorer, calibration: Calibration? = nil) {
    self.scorer = scorer
    self.calibration = calibration
  }

  /// The model's raw log-odds.
  @inlinable
  public func logit(customer: UnsafeBufferPointer<Float>, context: UnsafeBufferPointer<Float>) -> Double {
    switch scorer {
    case .logistic(let model): model.logit(customer: customer, context: context)
    case .trees(let model, _): model.rawScore(customer)
    }
  }

  /// The raw log-odds, logistic models reading the request's prepared row.
  @inlinable
  public func logit(
    row: ScoringRow, customer: UnsafeBufferPointer<Float>, context: UnsafeBufferPointer<Float>
  ) -> Double {
    switch scorer {
    case .logistic(let model): model.logit(row: row)
    case .trees(let model, _): model.rawScore(customer)
    }
  }

  /// The probability of acceptance from the request's prepared row.
  @inlinable
  public func propensity(
    row: ScoringRow, customer: UnsafeBufferPointer<Float>, context: UnsafeBufferPointer<Float>
  ) -> Double {
    let z = logit(row: row, customer: customer, context: context)
    return calibration?.probability(logit: z) ?? uncalibratedProbability(logit: z)
  }

  /// The probability of acceptance (calibrated when the bundle calibrates this offer).
  @inlinable
  public func propensity(customer: UnsafeBufferPointer<Float>, context: UnsafeBufferPointer<Float>) -> Double {
    let z = logit(customer: customer, context: context)
    return calibration?.probability(logit: z) ?? uncalibratedProbability(logit: z)
  }

  /// The probability for the scorer's log-odds without calibration: for a tree ensemble bit for
  /// bit as the library that trained it computes it, for a logistic model ``sigmoid(_:)``.
  @inlinable
  public func uncalibratedProbability(logit z: Double) -> Double {
    switch scorer {
    case .logistic: sigmoid(z)
    case .trees(let model, _): model.probability(rawScore: z)
    }
  }

  /// Names of the contribution slots (for trees: every customer feature).
  public var featureNames: [String] {
    switch scorer {
    case .logistic(let model): model.featureNames
    case .trees(_, let names): names
    }
  }

  /// Exact contributions to the log-odds, one per ``featureNames`` slot.
  public func contributions(
    customer: UnsafeBufferPointer<Float>, context: UnsafeBufferPointer<Float>, into: inout [Double]
  ) {
    switch scorer {
    case .logistic(let model): model.contributions(customer: customer, context: context, into: &into)
    case .trees(let model, _):
      for i in into.indices { into[i] = 0 }
      _ = model.contributions(customer, into: &into)
    }
  }

  /// The model's kind for reports: "logistic", "lightgbm" or "xgboost", with "+platt" or "+isotonic" when calibrated.
  public var kind: String {
    let base: String
    switch scorer {
    case .logistic: base = "logistic"
    case .trees(let model, _): base = model.convention == .lightGBM ? "lightgbm" : "xgboost"
    }
    switch calibration {
    case nil: return base
    case .platt?: return base + "+platt"
    case .isotonic?: return base + "+isotonic"
    }
  }

  /// Terms of a logistic model, split nodes of an ensemble.
  public var size: Int {
    switch scorer {
    case .logistic(let model): model.termCount
    case .trees(let model, _): model.nodeCount
    }
  }

  /// Hold-out AUC when the bundle records one.
  public var holdoutAUC: Double? {
    switch scorer {
    case .logistic(let model): model.metrics.holdoutAUC
    case .trees: nil
    }
  }
}

/// A plain-value handle on an uncalibrated logistic model's dense scorer, for hot loops that must
/// not touch reference counts. Valid while the ``PropensityModel`` it came from is alive (the
/// catalogue that holds both keeps it so).
public struct UnretainedLogistic: Sendable {
  @usableFromInline let dense: Unmanaged<DenseLogistic>

  /// The propensity from a prepared row.
  @inlinable
  public func propensity(_ row: ScoringRow) -> Double {
    sigmoid(logit(row))
  }

  /// The log-odds from a prepared row.
  @inlinable
  public func logit(_ row: ScoringRow) -> Double {
    dense._withUnsafeGuaranteedRef { $0.logit(row) }
  }
}

extension PropensityModel {
  /// The handle for an uncalibrated logistic model; nil for trees or a calibrated model.
  public var unretainedLogistic: UnretainedLogistic? {
    guard calibration == nil, case .logistic(let model) = scorer else { return nil }
    return UnretainedLogistic(dense: Unmanaged.passUnretained(model.dense))
  }
}
