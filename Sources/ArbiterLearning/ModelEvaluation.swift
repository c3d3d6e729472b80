/// How well a binary model's probabilities fit the truth on a set of rows: ranking (ROC and
/// precision–recall curves, AUC, average precision, cumulative gain and lift by decile),
/// probability quality (log-loss, Brier score, a reliability curve), the scores of each class, and
/// which features matter (by gain and by mean |SHAP|). Plain values, written as JSON for scripts
/// and drawn by ``EvaluationReport``.
public struct ModelEvaluation: Codable, Sendable {
  /// A point of a curve.
  public struct Point: Codable, Sendable, Hashable {
    public var x: Double
    public var y: Double

    /// A point at (x, y).
    public init(x: Double, y: Double) {
      self.x = x
      self.y = y
    }
  }

  /// One tenth of the rows, by descending probability.
  public struct Decile: Codable, Sendable, Hashable {
    /// 1 for the top tenth.
    public var decile: Int
    public var rows: Int
    public var positives: Int
    /// The positive rate in this tenth.
    public var rate: Double
    /// The share of all positives in the tenths down to this one.
    public var cumulativeGain: Double
    /// The positive rate down to this tenth over the overall rate.
    public var cumulativeLift: Double
  }

  /// Rows whose probabilities fall in one tenth of [0, 1].
  public struct ReliabilityBin: Codable, Sendable, Hashable {
    public var rows: Int
    public var meanPredicted: Double
    public var observedRate: Double
  }

  /// A feature's importance.
  public struct Importance: Codable, Sendable, Hashable {
    public var feature: String
    /// The loss reduction of all its splits (nil for a model that does not record it).
    public var gain: Double?
    /// How many splits use it (nil likewise).
    public var splits: Int?
    /// The mean absolute SHAP contribution to the log-odds over the rows explained (nil when not computed).
    public var meanAbsoluteSHAP: Double?

    /// A feature's importance by any of the measures.
    public init(feature: String, gain: Double? = nil, splits: Int? = nil, meanAbsoluteSHAP: Double? = nil) {
      self.feature = feature
      self.gain = gain
      self.splits = splits
      self.meanAbsoluteSHAP = meanAbsoluteSHAP
    }
  }

  public var rows: Int
  public var positives: Int
  public var auc: Double
  public var averagePrecision: Double
  public var logLoss: Double
  public var brierScore: Double
  /// (false positive rate, true positive rate), from (0, 0) to (1, 1), at most about 200 points.
  public var roc: [Point]
  /// (recall, precision), by descending threshold.
  public var precisionRecall: [Point]
  public var deciles: [Decile]
  public var reliability: [ReliabilityBin]
  /// Rows per twentieth of [0, 1] of the probability, positives and negatives apart.
  public var positiveScores: [Int]
  public var negativeScores: [Int]
  /// By descending mean |SHAP| (else gain).
  public var importance: [Importance]
  /// How many rows the SHAP means are over.
  public var explainedRows: Int
  /// How the contributions were computed, e.g. "exact TreeSHAP".
  public var contributionMethod: String

  /// Evaluates `probabilities` against `labels`. `importance` comes from the model.
  public init(
    probabilities: [Double], labels: [Bool], importance: [Importance] = [], explainedRows: Int = 0,
    contributionMethod: String = "exact TreeSHAP"
  ) {
    self.contributionMethod = contributionMethod
    precondition(probabilities.count == labels.count)
    let n = probabilities.count
    rows = n
    positives = labels.lazy.filter { $0 }.count
    auc = BinaryMetrics.auc(scores: probabilities, labels: labels)
    logLoss = BinaryMetrics.logLoss(probabilities: probabilities, labels: labels)
    brierScore = n == 0 ? .nan : zip(probabilities, labels).reduce(0) { $0 + ($1.0 - ($1.1 ? 1 : 0)) * ($1.0 - ($1.1 ? 1 : 0)) } / Double(n)
    let order = probabilities.indices.sorted { probabilities[$0] > probabilities[$1] }
    (roc, precisionRecall, averagePrecision) = Self.curves(order: order, probabilities: probabilities, labels: labels, positives: positives)
    deciles = Self.deciles(order: order, labels: labels, positives: positives)
    var sums = [(rows: Int, predicted: Double, positives: Int)](repeating: (0, 0, 0), count: 10)
    positiveScores = [Int](repeating: 0, count: 20)
    negativeScores = [Int](repeating: 0, count: 20)
    for (p, label) in zip(probabilities, labels) {
      let bin = min(9, max(0, Int(p * 10)))
      sums[bin].rows += 1
      sums[bin].predicted += p
      sums[bin].positives += label ? 1 : 0
      let twentieth = min(19, max(0, Int(p * 20)))
      if label { positiveScores[twentieth] += 1 } else { negativeScores[twentieth] += 1 }
    }
    reliability = sums.map {
      ReliabilityBin(
        rows: $0.rows, meanPredicted: $0.rows == 0 ? .nan : $0.predicted / Double($0.rows),
        observedRate: $0.rows == 0 ? .nan : Double($0.positives) / Double($0.rows))
    }
    self.importance = importance.sorted {
      ($0.meanAbsoluteSHAP ?? $0.gain ?? 0) > ($1.meanAbsoluteSHAP ?? $1.gain ?? 0)
    }
    self.explainedRows = explainedRows
  }

  /// ROC and precision–recall points at every distinct threshold (tied scores move together),
  /// thinned to about 200, and the average precision (the step integral of precision over recall).
  static func curves(order: [Int], probabilities: [Double], labels: [Bool], positives: Int) -> (
    [Point], [Point], Double
  ) {
    let negatives = order.count - positives
    guard positives > 0, negatives > 0 else { return ([], [], .nan) }
    var roc = [Point(x: 0, y: 0)]
    var pr: [Point] = []
    var truePositives = 0, falsePositives = 0
    var averagePrecision = 0.0
    var previousRecall = 0.0
    var i = 0
    while i < order.count {
      var j = i
      while j < order.count, probabilities[order[j]] == probabilities[order[i]] {
        if labels[order[j]] { truePositives += 1 } else { falsePositives += 1 }
        j += 1
      }
      let recall = Double(truePositives) / Double(positives)
      let precision = Double(truePositives) / Double(truePositives + falsePositives)
      averagePrecision += (recall - previousRecall) * precision
      previousRecall = recall
      roc.append(Point(x: Double(falsePositives) / Double(negatives), y: recall))
      pr.append(Point(x: recall, y: precision))
      i = j
    }
    return (thinned(roc), thinned(pr), averagePrecision)
  }

  /// At most about 200 points, keeping the first and last.
  static func thinned(_ points: [Point]) -> [Point] {
    guard points.count > 200 else { return points }
    let step = Double(points.count - 1) / 199
    return (0..<200).map { points[Int((Double($0) * step).rounded())] }
  }

  static func deciles(order: [Int], labels: [Bool], positives: Int) -> [Decile] {
    let n = order.count
    guard n >= 10, positives > 0 else { return [] }
    let overall = Double(positives) / Double(n)
    var result: [Decile] = []
    var cumulativeRows = 0, cumulativePositives = 0
    for d in 0..<10 {
      let start = d * n / 10, end = (d + 1) * n / 10
      let count = order[start..<end].lazy.filter { labels[$0] }.count
      cumulativeRows += end - start
      cumulativePositives += count
      result.append(
        Decile(
          decile: d + 1, rows: end - start, positives: count, rate: Double(count) / Double(end - start),
          cumulativeGain: Double(cumulativePositives) / Double(positives),
          cumulativeLift: Double(cumulativePositives) / Double(cumulativeRows) / overall))
    }
    return result
  }
}
