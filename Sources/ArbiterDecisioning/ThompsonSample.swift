import ArbiterCore
import ArbiterModels
import Foundation

/// One decision's Thompson sampling: per offer (by catalogue index), the adaptive model's linear
/// predictor as a normal (mean and standard deviation) and how a propensity becomes a priority
/// (priority = base + propensity × scale). A sample of an offer's propensity is the logistic of a
/// draw of its predictor — the distribution of w·x when the weights are drawn from their
/// posterior — and the offers are ranked by their sampled priorities.
struct ThompsonSample {
  var mean: [Double]
  var spread: [Double]
  var scale: [Double]
  var base: [Double]
  var random: SeededGenerator

  init(offers: Int, seed: UInt64) {
    mean = Array(repeating: 0, count: offers)
    spread = mean
    scale = mean
    base = mean
    random = SeededGenerator(seed: seed)
  }

  /// Records an offer's predictor and priority parts; returns its sampled priority.
  mutating func record(offer: Int, mean m: Double, variance: Double, scale s: Double, base b: Double) -> Double {
    mean[offer] = m
    spread[offer] = variance > 0 ? variance.squareRoot() : 0
    scale[offer] = s
    base[offer] = b
    return sampledPriority(offer, &random)
  }

  @inline(__always)
  func sampledPriority(_ offer: Int, _ random: inout SeededGenerator) -> Double {
    base[offer] + sigmoid(mean[offer] + spread[offer] * random.normal()) * scale[offer]
  }

  /// How often each of `offers` comes first in `draws` fresh samples of them all.
  func firstCounts(of offers: [Int], draws: Int, random: inout SeededGenerator) -> [Int] {
    var counts = [Int](repeating: 0, count: offers.count)
    for _ in 0..<draws {
      var best = 0
      var bestPriority = -Double.infinity
      for (k, offer) in offers.enumerated() {
        let priority = sampledPriority(offer, &random)
        if priority > bestPriority {
          best = k
          bestPriority = priority
        }
      }
      counts[best] += 1
    }
    return counts
  }

  /// The probability that the offer drawn, `offers[chosen]`, comes first among `offers`:
  /// estimated from the draw itself and `draws` resamples, (1 + times first) / (draws + 1), so
  /// that it is never 0 for what was shown.
  func probability(chosen: Int, among offers: [Int], draws: Int, random: inout SeededGenerator) -> Double {
    guard offers.count > 1 else { return 1 }
    let counts = firstCounts(of: offers, draws: draws, random: &random)
    return Double(1 + counts[chosen]) / Double(draws + 1)
  }
}
