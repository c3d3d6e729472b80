import ArbiterCore

/// One input of a logistic model: a feature (or one level of a categorical feature),
/// standardised as `(x - mean) / scale`, times `weight`.
public struct LogisticTerm: Codable, Sendable, Hashable {
  /// The name of the feature the term reads.
  public var feature: String
  /// For categorical features: the term is the indicator `x == level`.
  public var level: String?
  /// The feature's (or the level indicator's) mean over the training rows, subtracted before scaling.
  public var mean: Double
  /// The feature's standard deviation over the training rows, dividing the centred value (positive).
  public var scale: Double
  /// The term's weight on the standardised value, in log-odds per standard deviation.
  public var weight: Double

  /// Creates a term; `level` is nil for a numeric or boolean feature.
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
  /// How many history rows the model was fitted on.
  public var trainRows: Int
  /// How many history rows were held out for evaluation.
  public var holdoutRows: Int
  /// How many of the training rows were accepted offers.
  public var trainPositives: Int
  /// How many of the held-out rows were accepted offers.
  public var holdoutPositives: Int
  /// Area under the ROC curve on the training rows, in [0, 1] (0.5 is chance).
  public var trainAUC: Double
  /// Area under the ROC curve on the held-out rows, in [0, 1] (0.5 is chance); NaN when none was held out.
  public var holdoutAUC: Double
  /// Mean log-loss (cross-entropy, in nats) on the held-out rows; lower is better; NaN when none was held out.
  public var holdoutLogLoss: Double
  /// How many Newton iterations the fit took.
  public var iterations: Int
  /// The L2 penalty on the weights (not the intercept) the model was fitted with; 0 is unregularised.
  public var l2: Double

  /// Creates metrics from the counts and scores of a fit.
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
  /// The offer the model scores.
  public var offerId: String
  /// The model kind, always "logistic".
  public var kind: String
  /// The log-odds of acceptance when every standardised term is 0 (each feature at its mean).
  public var intercept: Double
  /// The model's terms, added to the intercept.
  public var terms: [LogisticTerm]
  /// How well the model did when it was trained.
  public var metrics: TrainingMetrics

  /// Creates a logistic model document (kind "logistic").
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
  /// The library that wrote a tree model: LightGBM (text model file) or XGBoost (JSON model file).
  public enum Kind: String, Codable, Sendable { case lightgbm, xgboost }
  /// The offer the model scores.
  public var offerId: String
  /// The library that wrote the model file, which decides how it is read.
  public var kind: Kind
  /// File name inside the bundle directory (checksummed by the manifest).
  public var file: String

  /// Creates a reference to a tree model file in the bundle.
  public init(offerId: String, kind: Kind, file: String) {
    self.offerId = offerId
    self.kind = kind
    self.file = file
  }
}

/// All models of a bundle (`models.json`): logistic models inline, tree ensembles by file.
public struct ModelsDocument: Codable, Sendable, Hashable {
  /// The logistic models, one per offer scored by logistic regression.
  public var models: [LogisticModelDocument]
  /// References to tree ensemble model files, one per offer scored by a tree model; empty when none.
  public var treeModels: [TreeModelReference]
  /// Calibration stages by offer id, applied to the offer's model.
  public var calibrations: [String: Calibration]

  /// Creates a models document; by default with no tree models or calibrations.
  public init(
    models: [LogisticModelDocument], treeModels: [TreeModelReference] = [], calibrations: [String: Calibration] = [:]
  ) {
    self.models = models
    self.treeModels = treeModels
    self.calibrations = calibrations
  }

  private enum CodingKeys: String, CodingKey { case models, treeModels, calibrations }

  /// Decodes a models document, treating absent lists as empty; throws a `DecodingError` on a malformed field.
  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    models = try c.decodeIfPresent([LogisticModelDocument].self, forKey: .models) ?? []
    treeModels = try c.decodeIfPresent([TreeModelReference].self, forKey: .treeModels) ?? []
    calibrations = try c.decodeIfPresent([String: Calibration].self, forKey: .calibrations) ?? [:]
  }

  /// Encodes the document, leaving out empty tree model and calibration lists.
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
