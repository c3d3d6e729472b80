import ArbiterCore
import Foundation

/// Draws the offer for one position of a response by the catalogue's exploration method, from
/// the candidates that can fill that position, and says the exact probability the draw gave it.
///
/// Candidates that cannot be shown (a quota or the channel's capacity used up, no room in the
/// slot being filled, already shown) are left out *before* the draw, so the logged probability
/// is that of the shown offer among what could be shown there — the product over a response's
/// positions is the probability of the whole response — and never conditional on a refusal.
struct OfferSelector {
  let policy: ExplorationPolicy
  var random: SeededGenerator

  init(policy: ExplorationPolicy, decisionId: String) {
    self.policy = policy
    random = SeededGenerator(seed: FNV1a.hash(decisionId))
  }

  /// Whether a draw needs every available candidate (not just the best one).
  var needsAllCandidates: Bool { policy.method != .greedy }

  /// The seed of a decision's Thompson samples (and, salted, of its resamples).
  static func thompsonSeed(decisionId: String) -> UInt64 { SeededGenerator.mix(FNV1a.hash(decisionId), salt: 0x7403) }

  /// Draws one of `available` (candidate positions, best first; not empty) whose priorities
  /// `priority` gives; returns the drawn candidate and its probability.
  mutating func pick(from available: [Int], priority: (Int) -> Double) -> (candidate: Int, probability: Double) {
    let m = available.count
    switch policy.method {
    case .greedy:
      return (available[0], 1)
    case .thompson:
      // Ranked by sampled priorities already; the engine estimates the probability by resampling.
      return (available[0], 1)
    case .epsilonGreedy:
      let explore = random.uniform() < policy.epsilon
      let k = explore ? Int(random.next() % UInt64(m)) : 0
      return (available[k], policy.epsilon / Double(m) + (k == 0 ? 1 - policy.epsilon : 0))
    case .softmax:
      let best = priority(available[0])
      let temperature = max(policy.temperature * best, 1e-12)
      var total = 0.0
      for candidate in available { total += exp((priority(candidate) - best) / temperature) }
      var u = random.uniform() * total
      var k = m - 1
      for j in 0..<m {
        u -= exp((priority(available[j]) - best) / temperature)
        if u < 0 {
          k = j
          break
        }
      }
      return (available[k], exp((priority(available[k]) - best) / temperature) / total)
    }
  }

  /// The probability of each of `priorities`' candidates (best first) being drawn first: what
  /// ``pick(from:priority:)`` gives each, for off-policy evaluation of this policy.
  static func firstDrawProbabilities(policy: ExplorationPolicy, priorities: [Double]) -> [Double] {
    let m = priorities.count
    guard m > 0 else { return [] }
    switch policy.method {
    case .greedy, .thompson:
      // (Thompson: the engine's replay estimates it by resampling instead.)
      return (0..<m).map { $0 == 0 ? 1 : 0 }
    case .epsilonGreedy:
      return (0..<m).map { policy.epsilon / Double(m) + ($0 == 0 ? 1 - policy.epsilon : 0) }
    case .softmax:
      let best = priorities[0]
      let temperature = max(policy.temperature * best, 1e-12)
      let weights = priorities.map { exp(($0 - best) / temperature) }
      let total = weights.reduce(0, +)
      return weights.map { $0 / total }
    }
  }
}
