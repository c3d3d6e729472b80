import ArbiterCore
import ArbiterLearning
import ArbiterModels
import Foundation

/// Evidence before change: a challenger goes live only when off-policy evaluation on the recent
/// logged traffic says it is better. The champion's decisions, with the challenger's shadow
/// decisions for the same requests (same customer, same history), are the rounds; the
/// challenger's doubly robust estimate must have its interval's lower end above the champion's
/// own value by the configured margin, on enough rounds, with the champion's log supporting the
/// challenger's choices.
public struct PromotionGate: Sendable {
  /// When a challenger may be promoted.
  public struct Configuration: Sendable, Hashable {
    /// How much the challenger's lower bound must beat the champion's value by, in the reward's
    /// unit per decision (0.0: any proven improvement).
    public var margin = 0.0
    /// The fewest rounds (decisions with a shadow decision, settled) a verdict rests on.
    public var minimumRounds = 1_000
    /// How much of the end of the interaction log is read: the recent traffic.
    public var recentBytes = 256 << 20
    /// How long after a decision an accept or convert counts.
    public var window: Duration = .seconds(14 * 86_400)
    /// Response (1 or 0) or value (the response times the offer's value).
    public var reward: LoggedPolicyRounds.Reward = .response
    /// The bootstrap behind the interval.
    public var evaluation = OffPolicyEvaluation.Options()
    /// Refuse when the champion's decisions rarely or never made the challenger's choices (a
    /// greedy champion): the estimate is then the reward model's guess. Explore first.
    public var requireSupport = true

    /// The defaults: any proven improvement on at least 1,000 rounds of the last 256 MiB of log.
    public init() {}
  }

  /// What the gate decided, with the numbers.
  public struct Verdict: Sendable, Hashable {
    /// Whether the challenger may go live.
    public var approved: Bool
    /// Whether it went live on this verdict.
    public var promoted = false
    /// Why, in words with the numbers.
    public var reason: String
    /// The champion and challenger, as "name/version".
    public var champion: String
    public var challenger: String
    /// The rounds the verdict rests on.
    public var rounds: Int
    /// The champion's value on them (its mean reward).
    public var championValue: Double
    /// The challenger's doubly robust estimate, with its interval.
    public var challengerEstimate: OffPolicyEvaluation.Estimate?
    /// The margin it had to beat.
    public var margin: Double
    /// The effective sample size and mean weight of the challenger's rounds.
    public var effectiveSampleSize: Double
    public var meanWeight: Double
    /// The estimate's warnings.
    public var warnings: [String]
    /// When it was decided, in milliseconds since the epoch.
    public var atMillis: Int64
  }

  public let configuration: Configuration

  /// A gate with `configuration`.
  public init(configuration: Configuration) { self.configuration = configuration }

  /// Judges `challenger` against `champion` (their "name/version") on the end of the log at
  /// `logPath`, read against `schema`.
  public func judge(
    logPath: String, schema: FeatureSchema, champion: String, challenger: String, nowMillis: Int64
  ) throws(ArbiterError) -> Verdict {
    let log = try LoggedDecisions.readTail(
      path: logPath, bytes: configuration.recentBytes, window: configuration.window)
    var recent = log
    // The champion's decisions that the challenger also decided.
    recent.entries = log.entries.filter { $0.bundle == champion && $0.shadowBundle == challenger }
    var verdict = Verdict(
      approved: false, reason: "", champion: champion, challenger: challenger, rounds: 0, championValue: .nan,
      challengerEstimate: nil, margin: configuration.margin, effectiveSampleSize: 0, meanWeight: .nan, warnings: [],
      atMillis: nowMillis)
    guard !recent.entries.isEmpty else {
      verdict.reason =
        "no decisions of \(champion) with a shadow decision of \(challenger) in the recent log: let the challenger "
        + "score a share of the traffic first"
      return verdict
    }
    let source: LoggedPolicyRounds
    do {
      source = try LoggedPolicyRounds(
        log: recent, schema: schema, window: configuration.window, reward: configuration.reward)
    } catch {
      verdict.reason = "the recent log cannot be evaluated: \(error.message)"
      return verdict
    }
    let rounds = source.rounds(.shadow)
    verdict.rounds = rounds.count
    guard rounds.count >= configuration.minimumRounds else {
      verdict.reason =
        "\(rounds.count) settled decisions with a shadow decision of \(challenger), fewer than the "
        + "\(configuration.minimumRounds) a verdict needs"
      return verdict
    }
    let total = try OffPolicyEvaluation.evaluate(rounds, options: configuration.evaluation).total
    verdict.championValue = total.logged.value
    verdict.challengerEstimate = total.doublyRobust
    verdict.effectiveSampleSize = total.effectiveSampleSize
    verdict.meanWeight = total.meanWeight
    verdict.warnings = total.warnings
    let dr = total.doublyRobust
    let numbers =
      "\(challenger) doubly robust \(Self.format(dr.value)) [\(Self.format(dr.lower)), \(Self.format(dr.upper))] "
      + "against \(champion) \(Self.format(total.logged.value)) + margin \(Self.format(configuration.margin)) on "
      + "\(rounds.count) decisions (effective \(Int(total.effectiveSampleSize.rounded())))"
    if configuration.requireSupport && total.meanWeight < 0.9 {
      verdict.reason =
        "refused: the champion's decisions rarely made the challenger's choices (mean weight "
        + "\(Self.format(total.meanWeight))), so the estimate is the reward model's guess; explore (epsilon-greedy, "
        + "softmax or Thompson) before promoting. \(numbers)"
    } else if dr.lower > total.logged.value + configuration.margin {
      verdict.approved = true
      verdict.reason = "approved: \(numbers)"
    } else {
      verdict.reason = "refused: the lower bound does not beat the champion by the margin. \(numbers)"
    }
    return verdict
  }

  static func format(_ value: Double) -> String { String(format: "%.4f", value) }
}
