import ArbiterModels

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Measures of a binary classifier's scores against the truth.
public enum BinaryMetrics {
  /// The area under the ROC curve: the chance a random positive scores above a random negative,
  /// ties counting half. NaN when either class is absent.
  public static func auc(scores: [Double], labels: [Bool]) -> Double {
    LogisticTrainer.auc(scores: scores, labels: labels)
  }

  /// The mean log-loss of raw scores (log-odds).
  public static func logLoss(scores: [Double], labels: [Bool]) -> Double {
    guard !scores.isEmpty else { return .nan }
    var total = 0.0
    for (score, label) in zip(scores, labels) {
      // log(1 + exp(-s)) for a positive, log(1 + exp(s)) for a negative, computed without overflow.
      let z = label ? -score : score
      total += z > 0 ? z + log1p(exp(-z)) : log1p(exp(z))
    }
    return total / Double(scores.count)
  }

  /// The mean log-loss of probabilities, clipped away from 0 and 1 by 1e-15.
  public static func logLoss(probabilities: [Double], labels: [Bool]) -> Double {
    guard !probabilities.isEmpty else { return .nan }
    var total = 0.0
    for (p, label) in zip(probabilities, labels) {
      let clipped = min(max(p, 1e-15), 1 - 1e-15)
      total -= label ? log(clipped) : log(1 - clipped)
    }
    return total / Double(probabilities.count)
  }
}
