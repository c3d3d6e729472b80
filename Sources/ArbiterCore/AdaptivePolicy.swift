/// Models that learn from every outcome: per offer (optionally per offer and channel), an online
/// Bayesian logistic regression whose inputs are an intercept, the offline model's log-odds and
/// the customer's standardised numeric features, with a Gaussian posterior over its weights
/// (diagonal; updated by one Laplace step per outcome). Its prior is the offline model itself —
/// intercept 0, log-odds coefficient 1, feature weights 0 — so a trained model is refined rather
/// than replaced; an offer without an offline model starts from `newOfferLogOdds` with wide
/// variances and learns from its first outcomes.
public struct AdaptivePolicy: Codable, Sendable, Hashable {
  /// One model per offer and channel instead of per offer.
  public var perChannel = false
  /// Prior variance of the intercept and the log-odds coefficient of an offer with an offline model.
  public var offlineVariance = 0.05
  /// Prior variance of each feature weight of an offer with an offline model.
  public var featureVariance = 0.001
  /// The prior log-odds of an offer without an offline model.
  public var newOfferLogOdds = -3.0
  /// Prior variance of its intercept.
  public var newOfferVariance = 1.0
  /// Prior variance of its feature weights.
  public var newOfferFeatureVariance = 0.02
  /// Variance added to the intercept before every update (a random walk: old outcomes weigh less,
  /// so a change in what customers do is followed); 0 for none.
  public var driftVariance = 2e-4
  /// For Thompson sampling: the resamples behind each shown offer's logged probability.
  public var probabilityDraws = 100
  /// How long after a decision a missing response counts as a no, in seconds.
  public var responseWindowSeconds = 3_600.0

  /// The defaults.
  public init() {}

  private enum CodingKeys: String, CodingKey {
    case perChannel, offlineVariance, featureVariance, newOfferLogOdds, newOfferVariance, newOfferFeatureVariance
    case driftVariance, probabilityDraws, responseWindowSeconds
  }

  /// Decodes a policy, defaulting absent fields.
  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    let d = AdaptivePolicy.defaults
    perChannel = try c.decodeIfPresent(Bool.self, forKey: .perChannel) ?? d.perChannel
    offlineVariance = try c.decodeIfPresent(Double.self, forKey: .offlineVariance) ?? d.offlineVariance
    featureVariance = try c.decodeIfPresent(Double.self, forKey: .featureVariance) ?? d.featureVariance
    newOfferLogOdds = try c.decodeIfPresent(Double.self, forKey: .newOfferLogOdds) ?? d.newOfferLogOdds
    newOfferVariance = try c.decodeIfPresent(Double.self, forKey: .newOfferVariance) ?? d.newOfferVariance
    newOfferFeatureVariance =
      try c.decodeIfPresent(Double.self, forKey: .newOfferFeatureVariance) ?? d.newOfferFeatureVariance
    driftVariance = try c.decodeIfPresent(Double.self, forKey: .driftVariance) ?? d.driftVariance
    probabilityDraws = try c.decodeIfPresent(Int.self, forKey: .probabilityDraws) ?? d.probabilityDraws
    responseWindowSeconds =
      try c.decodeIfPresent(Double.self, forKey: .responseWindowSeconds) ?? d.responseWindowSeconds
  }

  private static let defaults = AdaptivePolicy()

  /// Why the policy cannot be used, or nil.
  public var problem: String? {
    let variances = [offlineVariance, featureVariance, newOfferVariance, newOfferFeatureVariance]
    guard variances.allSatisfy({ $0.isFinite && $0 > 0 }) else { return "the prior variances must be > 0" }
    guard driftVariance.isFinite, driftVariance >= 0 else { return "driftVariance must be >= 0" }
    guard newOfferLogOdds.isFinite else { return "newOfferLogOdds must be a number" }
    guard (1...10_000).contains(probabilityDraws) else { return "probabilityDraws must be between 1 and 10000" }
    guard responseWindowSeconds.isFinite, responseWindowSeconds > 0 else { return "responseWindowSeconds must be > 0" }
    return nil
  }
}
