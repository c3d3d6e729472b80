import ArbiterCore
import Foundation

/// Draws offers from a ranking by the catalogue's exploration method and says, for each drawn
/// offer, the exact probability with which it was drawn (given the offers still in the draw),
/// so that outcomes can evaluate another policy off-policy.
struct OfferSelector {
  let policy: ExplorationPolicy
  var random: SeededGenerator

  init(policy: ExplorationPolicy, decisionId: String) {
    self.policy = policy
    random = SeededGenerator(seed: FNV1a.hash(decisionId))
  }

  /// Draws up to `count` of `priorities` (sorted best first, all > 0) one at a time; `accept`
  /// may refuse a drawn offer (a quota full, no slot for it), which leaves the draw. Returns
  /// the drawn positions with their probabilities.
  mutating func select(priorities: [Double], count: Int, accept: (Int) -> Bool) -> [(index: Int, probability: Double)] {
    var remaining = Array(priorities.indices)
    var chosen: [(index: Int, probability: Double)] = []
    var weights = policy.method == .softmax ? [Double](repeating: 0, count: priorities.count) : []
    chosen.reserveCapacity(min(count, priorities.count))
    while chosen.count < count, !remaining.isEmpty {
      let m = remaining.count
      var pick = 0
      var probability = 1.0
      switch policy.method {
      case .greedy:
        pick = 0
      case .epsilonGreedy:
        let explore = random.uniform() < policy.epsilon
        pick = explore ? Int(random.next() % UInt64(m)) : 0
        probability = policy.epsilon / Double(m) + (pick == 0 ? 1 - policy.epsilon : 0)
      case .softmax:
        let best = priorities[remaining[0]]
        let temperature = max(policy.temperature * best, 1e-12)
        var total = 0.0
        for (k, i) in remaining.enumerated() {
          weights[k] = exp((priorities[i] - best) / temperature)
          total += weights[k]
        }
        var u = random.uniform() * total
        pick = m - 1
        for k in 0..<m {
          u -= weights[k]
          if u < 0 { pick = k; break }
        }
        probability = weights[pick] / total
      }
      let index = remaining.remove(at: pick)
      if accept(index) { chosen.append((index, probability)) }
    }
    return chosen
  }
}
