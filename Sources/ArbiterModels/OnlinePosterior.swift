#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// A Gaussian posterior over the weights of a logistic regression, with a diagonal covariance,
/// updated one outcome at a time by a Laplace step: the curvature p(1 − p)x² of the outcome's
/// log-likelihood is added to each weight's precision, and the mean moves by the gradient
/// (y − p)x scaled by the new variances (the extended Kalman filter of a logistic model, on the
/// diagonal). An optional drift variance is added to the intercept first, so that the posterior
/// keeps following a response rate that changes.
public struct OnlinePosterior: Sendable, Hashable, Codable {
  /// The weights' means; the first is the intercept's (its input is always 1).
  public var mean: [Double]
  /// The weights' variances.
  public var variance: [Double]
  /// Outcomes learnt from, and how many of them were responses.
  public var updates: UInt64 = 0
  public var positives: UInt64 = 0

  /// A posterior from its prior.
  public init(mean: [Double], variance: [Double]) {
    precondition(mean.count == variance.count && !mean.isEmpty)
    self.mean = mean
    self.variance = variance
  }

  /// The linear predictor's mean and variance for input `x` (of the weights' width).
  @inlinable
  public func predictor(_ x: UnsafeBufferPointer<Double>) -> (mean: Double, variance: Double) {
    var m = 0.0, v = 0.0
    for i in 0..<mean.count {
      m += mean[i] * x[i]
      v += variance[i] * x[i] * x[i]
    }
    return (m, v)
  }

  /// Learns from one outcome of input `x`; false, and nothing changed, when the input or the
  /// result is not finite (a bad update is refused, not learnt).
  public mutating func update(x: UnsafeBufferPointer<Double>, label: Bool, drift: Double) -> Bool {
    let d = mean.count
    guard x.count == d else { return false }
    return withUnsafeTemporaryAllocation(of: Double.self, capacity: 2 * d) { scratch in
      var z = 0.0
      for i in 0..<d {
        guard x[i].isFinite else { return false }
        z += mean[i] * x[i]
      }
      let p = z >= 0 ? 1 / (1 + exp(-z)) : exp(z) / (1 + exp(z))
      let curvature = p * (1 - p)
      let residual = (label ? 1.0 : 0.0) - p
      for i in 0..<d {
        let prior = variance[i] + (i == 0 ? drift : 0)
        let v = 1 / (1 / prior + curvature * x[i] * x[i])
        let m = mean[i] + v * residual * x[i]
        guard v.isFinite, v > 0, m.isFinite else { return false }
        scratch[i] = m
        scratch[d + i] = v
      }
      for i in 0..<d {
        mean[i] = scratch[i]
        variance[i] = scratch[d + i]
      }
      updates += 1
      if label { positives += 1 }
      return true
    }
  }
}
