import ArbiterCore
import Foundation

/// The value of a candidate policy estimated on traffic another policy logged: inverse
/// propensity weighting (IPW), self-normalised IPW, the direct method (the reward model's
/// prediction) and doubly robust (the direct method corrected by the weighted residuals), each
/// with a standard error and a bootstrap percentile interval, in total and per group, with the
/// effective sample size and warnings where the logged probabilities give the candidate little
/// support.
///
/// The bootstrap is defined exactly, so that a reference can repeat it: replicate after
/// replicate, `n` indices are drawn with ``SeededGenerator/below(_:)`` from one generator (seeded
/// with the seed for the total, with `SeededGenerator.mix(seed, salt: k + 1)` for the `k`-th group
/// in name order), and the interval's ends are the replicates' quantiles interpolated linearly.
public struct OffPolicyEvaluation: Sendable, Codable {
  /// How the estimates are computed.
  public struct Options: Sendable, Codable, Hashable {
    /// Bootstrap replicates (0 for none: the intervals are then ±1.96 standard errors).
    public var replicates = 1_000
    /// The bootstrap's seed.
    public var seed: UInt64 = 17
    /// The intervals' coverage.
    public var level = 0.95

    /// The defaults: 1,000 replicates, seed 17, 95% intervals.
    public init() {}
  }

  /// One estimate with its uncertainty.
  public struct Estimate: Sendable, Codable, Hashable {
    /// The estimated value per decision.
    public var value: Double
    /// Its standard error (the delta method's for the self-normalised estimator).
    public var standardError: Double
    /// The interval's lower end.
    public var lower: Double
    /// The interval's upper end.
    public var upper: Double
  }

  /// The estimates for all rounds or for one group of them.
  public struct Segment: Sendable, Codable, Hashable {
    /// "total", or the group's name.
    public var name: String
    /// The rounds in it.
    public var rounds: Int
    /// (Σw)² / Σw², the number of rounds the weighted estimate is worth.
    public var effectiveSampleSize: Double
    /// The mean importance weight: about 1 when the logging policy could make every choice the
    /// candidate makes; the share of the candidate's choices it could make when it was greedy.
    public var meanWeight: Double
    /// The largest importance weight.
    public var maxWeight: Double
    /// What the logging policy itself achieved: the mean reward.
    public var logged: Estimate
    /// Inverse propensity weighting: mean of w·r.
    public var ipw: Estimate
    /// Self-normalised IPW: Σ w·r / Σ w.
    public var snipw: Estimate
    /// The direct method: mean of the reward model's prediction under the candidate.
    public var directMethod: Estimate
    /// Doubly robust: the direct method plus the mean weighted residual.
    public var doublyRobust: Estimate
    /// Where the estimates deserve less trust, in words.
    public var warnings: [String]
  }

  /// The options the estimates were computed with.
  public var options: Options
  /// All rounds together.
  public var total: Segment
  /// Per group, in name order.
  public var groups: [Segment]

  /// Evaluates; throws naming the first round whose probabilities or values are not valid.
  public static func evaluate(
    _ rounds: [PolicyRound], options: Options = Options()
  ) throws(ArbiterError)
    -> OffPolicyEvaluation
  {
    guard !rounds.isEmpty else { throw ArbiterError(.invalidArgument, "no logged rounds to evaluate on") }
    guard options.replicates >= 0, options.level > 0, options.level < 1 else {
      throw ArbiterError(.invalidArgument, "the bootstrap needs replicates ≥ 0 and a level between 0 and 1")
    }
    for (index, round) in rounds.enumerated() {
      if let problem = problem(of: round) { throw ArbiterError(.invalidArgument, "round \(index + 1): \(problem)") }
    }
    let terms = Terms(rounds)
    let total = segment("total", terms: terms, rows: Array(rounds.indices), seed: options.seed, options: options)
    let names = Set(rounds.map(\.group)).sorted()
    var rowsByGroup: [String: [Int]] = [:]
    for (index, round) in rounds.enumerated() { rowsByGroup[round.group, default: []].append(index) }
    let groups = names.enumerated().map { k, name in
      segment(
        name, terms: terms, rows: rowsByGroup[name]!, seed: SeededGenerator.mix(options.seed, salt: UInt64(k + 1)),
        options: options)
    }
    return OffPolicyEvaluation(options: options, total: total, groups: groups)
  }

  /// Why a round cannot be used, or nil.
  static func problem(of round: PolicyRound) -> String? {
    guard round.loggedProbability > 0, round.loggedProbability <= 1 else {
      return "the logged probability \(round.loggedProbability) is not in (0, 1]"
    }
    guard round.targetProbability >= 0, round.targetProbability <= 1 else {
      return "the candidate's probability \(round.targetProbability) is not in [0, 1]"
    }
    guard round.reward.isFinite, round.predictedReward.isFinite, round.predictedTargetValue.isFinite else {
      return "the reward or a prediction is not a finite number"
    }
    return nil
  }

  /// Each round's terms, computed once.
  struct Terms {
    var reward: [Double]
    var weight: [Double]
    var weightedReward: [Double]
    var directMethod: [Double]
    var doublyRobust: [Double]

    init(_ rounds: [PolicyRound]) {
      reward = rounds.map(\.reward)
      weight = rounds.map(\.weight)
      weightedReward = rounds.map { $0.weight * $0.reward }
      directMethod = rounds.map(\.predictedTargetValue)
      doublyRobust = rounds.map(\.doublyRobustTerm)
    }
  }

  /// The five estimators' values from sums over `n` rounds.
  struct Sums {
    var reward = 0.0, weight = 0.0, weightedReward = 0.0, directMethod = 0.0, doublyRobust = 0.0

    mutating func add(_ terms: Terms, _ i: Int) {
      reward += terms.reward[i]
      weight += terms.weight[i]
      weightedReward += terms.weightedReward[i]
      directMethod += terms.directMethod[i]
      doublyRobust += terms.doublyRobust[i]
    }

    /// logged, IPW, SNIPW, DM, DR.
    func values(_ n: Int) -> [Double] {
      let count = Double(n)
      return [
        reward / count, weightedReward / count, weight > 0 ? weightedReward / weight : .nan, directMethod / count,
        doublyRobust / count,
      ]
    }
  }

  static func segment(_ name: String, terms: Terms, rows: [Int], seed: UInt64, options: Options) -> Segment {
    var sums = Sums()
    var squaredWeights = 0.0
    var maxWeight = 0.0
    for i in rows {
      sums.add(terms, i)
      squaredWeights += terms.weight[i] * terms.weight[i]
      maxWeight = max(maxWeight, terms.weight[i])
    }
    let n = rows.count
    let values = sums.values(n)
    let errors = [
      standardError(rows.map { terms.reward[$0] }), standardError(rows.map { terms.weightedReward[$0] }),
      selfNormalisedError(terms: terms, rows: rows, value: values[2], weightSum: sums.weight),
      standardError(rows.map { terms.directMethod[$0] }), standardError(rows.map { terms.doublyRobust[$0] }),
    ]
    let intervals = bootstrap(terms: terms, rows: rows, seed: seed, options: options, values: values, errors: errors)
    let estimates = (0..<5).map { k in
      Estimate(value: values[k], standardError: errors[k], lower: intervals[k].lower, upper: intervals[k].upper)
    }
    let effective = squaredWeights > 0 ? sums.weight * sums.weight / squaredWeights : 0
    let meanWeight = sums.weight / Double(n)
    return Segment(
      name: name, rounds: n, effectiveSampleSize: effective, meanWeight: meanWeight, maxWeight: maxWeight,
      logged: estimates[0], ipw: estimates[1], snipw: estimates[2], directMethod: estimates[3],
      doublyRobust: estimates[4], warnings: warnings(rounds: n, effective: effective, meanWeight: meanWeight))
  }

  /// The sample standard deviation over √n (0 for fewer than two values).
  static func standardError(_ values: [Double]) -> Double {
    guard values.count > 1 else { return 0 }
    let mean = values.reduce(0, +) / Double(values.count)
    let squares = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) }
    return (squares / Double(values.count - 1)).squareRoot() / Double(values.count).squareRoot()
  }

  /// The self-normalised estimator's delta-method standard error: √Σ(w(r − V))² / Σw.
  static func selfNormalisedError(terms: Terms, rows: [Int], value: Double, weightSum: Double) -> Double {
    guard weightSum > 0 else { return .nan }
    var squares = 0.0
    for i in rows {
      let residual = terms.weight[i] * (terms.reward[i] - value)
      squares += residual * residual
    }
    return squares.squareRoot() / weightSum
  }

  /// Percentile intervals of the five estimators; ±z standard errors without replicates.
  static func bootstrap(
    terms: Terms, rows: [Int], seed: UInt64, options: Options, values: [Double], errors: [Double]
  ) -> [(lower: Double, upper: Double)] {
    guard options.replicates > 0 else {
      let z = normalQuantile(0.5 + options.level / 2)
      return (0..<5).map { (values[$0] - z * errors[$0], values[$0] + z * errors[$0]) }
    }
    var random = SeededGenerator(seed: seed)
    var replicates = [[Double]](repeating: [], count: 5)
    let n = rows.count
    for _ in 0..<options.replicates {
      var sums = Sums()
      for _ in 0..<n { sums.add(terms, rows[random.below(n)]) }
      for (k, value) in sums.values(n).enumerated() where !value.isNaN { replicates[k].append(value) }
    }
    let tail = (1 - options.level) / 2
    return replicates.map { sample in
      let sorted = sample.sorted()
      return (quantile(sorted, tail), quantile(sorted, 1 - tail))
    }
  }

  /// The `q` quantile of sorted values, interpolated linearly between order statistics (numpy's default).
  static func quantile(_ sorted: [Double], _ q: Double) -> Double {
    guard !sorted.isEmpty else { return .nan }
    let position = Double(sorted.count - 1) * q
    let below = Int(position.rounded(.down))
    let above = min(below + 1, sorted.count - 1)
    return sorted[below] + (sorted[above] - sorted[below]) * (position - Double(below))
  }

  /// The standard normal quantile (Acklam's approximation, relative error below 1.2e-9).
  public static func normalQuantile(_ p: Double) -> Double {
    let a = [
      -39.69683028665376, 220.9460984245205, -275.9285104469687, 138.3577518672690, -30.66479806614716,
      2.506628277459239,
    ]
    let b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572]
    let c = [
      -0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734,
      4.374664141464968, 2.938163982698783,
    ]
    let d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416]
    let low = 0.02425
    if p < low {
      let q = (-2 * log(p)).squareRoot()
      return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5])
        / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
    }
    if p > 1 - low { return -normalQuantile(1 - p) }
    let q = p - 0.5, r = q * q
    return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q
      / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
  }

  /// Warnings about support: a small effective sample, or a mean weight well below 1 (choices
  /// the logging policy rarely or never made, which IPW cannot see and the direct method guesses).
  static func warnings(rounds: Int, effective: Double, meanWeight: Double) -> [String] {
    var warnings: [String] = []
    if effective < 100 || effective < 0.1 * Double(rounds) {
      warnings.append(
        "little support: the weighted estimates rest on an effective \(Int(effective.rounded())) of \(rounds) rounds")
    }
    if meanWeight < 0.9 {
      warnings.append(
        "the logging policy rarely or never made some of the candidate's choices (mean weight "
          + "\(String(format: "%.3f", meanWeight)), about 1 with full support): IPW under-estimates them and the "
          + "direct method extrapolates")
    }
    return warnings
  }
}
