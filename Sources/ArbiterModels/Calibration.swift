import ArbiterCore

/// A calibration stage applied to a model's raw log-odds `z`, turning it into a probability.
///
/// - Platt: `p = 1 / (1 + exp(-(a·z + b)))`, fitted by maximum likelihood.
/// - Isotonic: a non-decreasing step function of `z`, fitted by pool-adjacent-violators; `upper[i]`
///   is the largest score of block `i`, `values[i]` its mean outcome.
public enum Calibration: Codable, Sendable, Hashable {
  case platt(a: Double, b: Double)
  case isotonic(upper: [Double], values: [Double])

  /// The calibrated probability for log-odds `z`.
  @inlinable
  public func probability(logit z: Double) -> Double {
    switch self {
    case .platt(let a, let b): return sigmoid(a * z + b)
    case .isotonic(let upper, let values):
      var low = 0, high = upper.count - 1
      if z >= upper[high] { return values[high] }
      while low < high {
        let middle = (low + high) / 2
        if upper[middle] < z { low = middle + 1 } else { high = middle }
      }
      return values[low]
    }
  }

  /// Checks the parameters; errors name what is wrong.
  public func validate(_ what: String) throws(ArbiterError) {
    switch self {
    case .platt(let a, let b):
      guard a.isFinite, b.isFinite else {
        throw ArbiterError(.dataCorrupted, "\(what): Platt parameters must be finite")
      }
    case .isotonic(let upper, let values):
      guard !upper.isEmpty, upper.count == values.count else {
        throw ArbiterError(.dataCorrupted, "\(what): isotonic blocks are empty or uneven")
      }
      for i in upper.indices {
        guard upper[i].isFinite, values[i] >= 0, values[i] <= 1 else {
          throw ArbiterError(.dataCorrupted, "\(what): isotonic block \(i) is not a finite score with a probability")
        }
        if i > 0 {
          guard upper[i] > upper[i - 1], values[i] >= values[i - 1] else {
            throw ArbiterError(.dataCorrupted, "\(what): isotonic blocks are not increasing")
          }
        }
      }
    }
  }

  /// Fits Platt scaling by Newton's method on (a, b), with the usual smoothed targets.
  public static func fitPlatt(logits: [Double], labels: [Bool]) throws(ArbiterError) -> Calibration {
    let positives = Double(labels.filter { $0 }.count), negatives = Double(labels.count) - positives
    guard positives > 0, negatives > 0 else {
      throw ArbiterError(.failedPrecondition, "Platt scaling needs both outcomes")
    }
    let high = (positives + 1) / (positives + 2), low = 1 / (negatives + 2)
    var a = 1.0, b = 0.0
    for _ in 0..<100 {
      var g0 = 0.0, g1 = 0.0, h00 = 1e-12, h01 = 0.0, h11 = 1e-12
      for (z, label) in zip(logits, labels) {
        let p = sigmoid(a * z + b), t = label ? high : low
        let w = p * (1 - p)
        g0 += (p - t) * z; g1 += p - t
        h00 += w * z * z; h01 += w * z; h11 += w
      }
      let det = h00 * h11 - h01 * h01
      guard det > 0 else { break }
      let da = (h11 * g0 - h01 * g1) / det, db = (h00 * g1 - h01 * g0) / det
      a -= da; b -= db
      if abs(da) < 1e-12 && abs(db) < 1e-12 { break }
    }
    return .platt(a: a, b: b)
  }

  /// Fits isotonic calibration by pool-adjacent-violators over the sorted scores.
  public static func fitIsotonic(logits: [Double], labels: [Bool]) throws(ArbiterError) -> Calibration {
    guard !logits.isEmpty, logits.count == labels.count else {
      throw ArbiterError(.failedPrecondition, "isotonic calibration needs scored outcomes")
    }
    let order = logits.indices.sorted { logits[$0] < logits[$1] }
    var upper: [Double] = [], sums: [Double] = [], counts: [Double] = []
    for i in order {
      let z = logits[i], y = labels[i] ? 1.0 : 0.0
      if let last = upper.last, last == z {
        sums[sums.count - 1] += y; counts[counts.count - 1] += 1
      } else {
        upper.append(z); sums.append(y); counts.append(1)
      }
      while sums.count > 1
        && sums[sums.count - 2] / counts[counts.count - 2] > sums[sums.count - 1] / counts[counts.count - 1]
      {
        let s = sums.removeLast(), c = counts.removeLast(), u = upper.removeLast()
        sums[sums.count - 1] += s; counts[counts.count - 1] += c; upper[upper.count - 1] = u
      }
    }
    return .isotonic(upper: upper, values: zip(sums, counts).map { $0 / $1 })
  }
}
