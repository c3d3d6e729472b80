import ArbiterCore

/// One input of a logistic model: a feature (or one level of a categorical feature),
/// standardised as `(x - mean) / scale`, times `weight`.
public struct LogisticTerm: Codable, Sendable, Hashable {
  public var feature: String
  /// For categorical features: the term is the indicator `x == level`.
  public var level: String?
  public var mean: Double
  public var scale: Double
  public var weight: Double

  public init(feature: String, level: String?, mean: Double, scale: Double, weight: Double) {
    self.feature = feature
    self.level = level
    self.mean = mean
    self.scale = scale
    self.weight = weight
  }
}

/// How well a model did when it was trained.
public struct TrainingMetrics: Codable, Sendable, Hashable {
  public var trainRows: Int
  public var holdoutRows: Int
  public var trainPositives: Int
  public var holdoutPositives: Int
  public var trainAUC: Double
  public var holdoutAUC: Double
  public var holdoutLogLoss: Double
  public var iterations: Int
  public var l2: Double

  public init(
    trainRows: Int, holdoutRows: Int, trainPositives: Int, holdoutPositives: Int, trainAUC: Double,
    holdoutAUC: Double, holdoutLogLoss: Double, iterations: Int, l2: Double
  ) {
    self.trainRows = trainRows
    self.holdoutRows = holdoutRows
    self.trainPositives = trainPositives
    self.holdoutPositives = holdoutPositives
    self.trainAUC = trainAUC
    self.holdoutAUC = holdoutAUC
    self.holdoutLogLoss = holdoutLogLoss
    self.iterations = iterations
    self.l2 = l2
  }
}

/// A regularised logistic-regression propensity model for one offer, as stored in a bundle.
public struct LogisticModelDocument: Codable, Sendable, Hashable {
  public var offerId: String
  public var kind: String
  public var intercept: Double
  public var terms: [LogisticTerm]
  public var metrics: TrainingMetrics

  public init(offerId: String, intercept: Double, terms: [LogisticTerm], metrics: TrainingMetrics) {
    self.offerId = offerId
    self.kind = "logistic"
    self.intercept = intercept
    self.terms = terms
    self.metrics = metrics
  }
}

/// A tree-ensemble model trained elsewhere, kept in the bundle as the library wrote it.
public struct TreeModelReference: Codable, Sendable, Hashable {
  public enum Kind: String, Codable, Sendable { case lightgbm, xgboost }
  public var offerId: String
  public var kind: Kind
  /// File name inside the bundle directory (checksummed by the manifest).
  public var file: String

  public init(offerId: String, kind: Kind, file: String) {
    self.offerId = offerId
    self.kind = kind
    self.file = file
  }
}

/// All models of a bundle (`models.json`): logistic models inline, tree ensembles by file.
public struct ModelsDocument: Codable, Sendable, Hashable {
  public var models: [LogisticModelDocument]
  public var treeModels: [TreeModelReference]
  /// Calibration stages by offer id, applied to the offer's model.
  public var calibrations: [String: Calibration]

  public init(models: [LogisticModelDocument], treeModels: [TreeModelReference] = [], calibrations: [String: Calibration] = [:]) {
    self.models = models
    self.treeModels = treeModels
    self.calibrations = calibrations
  }

  private enum CodingKeys: String, CodingKey { case models, treeModels, calibrations }

  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    models = try c.decodeIfPresent([LogisticModelDocument].self, forKey: .models) ?? []
    treeModels = try c.decodeIfPresent([TreeModelReference].self, forKey: .treeModels) ?? []
    calibrations = try c.decodeIfPresent([String: Calibration].self, forKey: .calibrations) ?? [:]
  }

  public func encode(to encoder: any Encoder) throws {
    var c = encoder.container(keyedBy: CodingKeys.self)
    try c.encode(models, forKey: .models)
    if !treeModels.isEmpty { try c.encode(treeModels, forKey: .treeModels) }
    if !calibrations.isEmpty { try c.encode(calibrations, forKey: .calibrations) }
  }
}

/// The logistic function, guarded against overflow: Arbiter's own logistic models and calibration.
/// Tree ensembles use their library's own form instead (``TreeEnsemble/probability(rawScore:)``).
@inlinable
public func sigmoid(_ z: Double) -> Double {
  z >= 0 ? 1 / (1 + exp(-z)) : exp(z) / (1 + exp(z))
}

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif
