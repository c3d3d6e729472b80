/// One logged decision as off-policy evaluation reads it: the action the logging policy took,
/// with the probability it took it with, the reward that followed, and what the candidate policy
/// and the reward model say about it.
public struct PolicyRound: Sendable, Hashable {
  /// The segment the round is reported in (the channel, for decisions from an interaction log).
  public var group: String
  /// The probability the logging policy took the logged action with, μ(a|x), in (0, 1].
  public var loggedProbability: Double
  /// The reward observed after the logged action (1 for a response, 0 for none, or its value).
  public var reward: Double
  /// The probability the candidate policy takes the logged action in the same context, π(a|x).
  public var targetProbability: Double
  /// The reward model's prediction for the logged action, q̂(x, a).
  public var predictedReward: Double
  /// The reward model's prediction under the candidate policy, Σ_b π(b|x) q̂(x, b).
  public var predictedTargetValue: Double

  /// A round; probabilities are checked by ``OffPolicyEvaluation/evaluate(_:options:)``.
  public init(
    group: String, loggedProbability: Double, reward: Double, targetProbability: Double, predictedReward: Double,
    predictedTargetValue: Double
  ) {
    self.group = group
    self.loggedProbability = loggedProbability
    self.reward = reward
    self.targetProbability = targetProbability
    self.predictedReward = predictedReward
    self.predictedTargetValue = predictedTargetValue
  }

  /// The importance weight π(a|x) / μ(a|x).
  public var weight: Double { targetProbability / loggedProbability }

  /// The doubly robust term: q̂ under the candidate plus the weighted residual of the logged action.
  public var doublyRobustTerm: Double { predictedTargetValue + weight * (reward - predictedReward) }
}
