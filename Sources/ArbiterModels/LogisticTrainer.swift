import ArbiterCore

/// Fits L2-regularised logistic regression by Newton's method (iteratively reweighted least
/// squares with a Cholesky solve and step halving) on standardised features, and evaluates it on
/// a hold-out set split by customer.
///
/// Every feature of the schema becomes a term: numeric and boolean features as themselves,
/// categorical features as one indicator per level but the first. Terms without variance in the
/// training rows are dropped. Deterministic: the same data gives the same bits.
public struct LogisticTrainer: Sendable {
  /// Strength of the L2 penalty on standardised weights (the intercept is not penalised).
  public var l2: Double = 1.0
  /// The most Newton steps per model.
  public var maxIterations = 50
  /// Share of customers held out for evaluation.
  public var holdoutFraction = 0.2
  /// Salt of the hash that assigns customers to the hold-out.
  public var splitSalt: UInt64 = 0x5eed

  /// A trainer with the default settings.
  public init() {}

  /// Fits the model of one offer to `data` and evaluates it on the hold-out customers, in stages:
  /// split the rows, choose and standardise the terms, fit, evaluate.
  public func train(
    offerId: String, schema: FeatureSchema, data: TrainingSet
  ) throws(ArbiterError) -> LogisticModelDocument {
    let split = try split(data, offerId: offerId)
    let standardised = Self.standardised(Self.candidates(schema: schema, data: data), rows: split.trainRows)
    var terms = standardised.terms
    let kept = standardised.kept
    let d = terms.count + 1  // column 0 is the intercept
    let xTrain = Self.design(split.trainRows, terms: terms, kept: kept)
    let yTrain = split.trainRows.map { data.labels[$0] ? 1.0 : 0.0 }
    let wTrain = split.trainRows.map { data.weights[$0] }
    let (beta, iterations) = try fit(x: xTrain, y: yTrain, w: wTrain, d: d, offerId: offerId)
    for t in terms.indices { terms[t].weight = beta[t + 1] }
    let metrics = evaluate(
      split, data: data, xTrain: xTrain, xHold: Self.design(split.holdoutRows, terms: terms, kept: kept), beta: beta,
      iterations: iterations)
    return LogisticModelDocument(offerId: offerId, intercept: beta[0], terms: terms, metrics: metrics)
  }

  /// The training and hold-out rows (split by customer) and the training positives.
  struct Split {
    var trainRows: [Int]
    var holdoutRows: [Int]
    var positives: Int
  }

  /// A candidate term: a numeric or boolean feature as itself, or one level of a categorical one.
  struct Candidate {
    var feature: String
    var level: String?
    var read: (Int) -> Float
    var code: Float?

    /// The term's value in a row (nil when missing).
    func value(_ row: Int) -> Double? {
      let raw = read(row)
      if raw.isNaN { return nil }
      if let code { return raw == code ? 1 : 0 }
      return Double(raw)
    }
  }

  private func split(_ data: TrainingSet, offerId: String) throws(ArbiterError) -> Split {
    let isHoldout = data.groups.map { isHeldOut($0) }
    let trainRows = (0..<data.count).filter { !isHoldout[$0] }
    let holdoutRows = (0..<data.count).filter { isHoldout[$0] }
    guard trainRows.count >= 20 else {
      throw ArbiterError(.failedPrecondition, "offer '\(offerId)': only \(trainRows.count) training rows")
    }
    let positives = trainRows.reduce(0) { $0 + (data.labels[$1] ? 1 : 0) }
    guard positives > 0, positives < trainRows.count else {
      throw ArbiterError(
        .failedPrecondition,
        "offer '\(offerId)': training rows are all one class (\(positives) of \(trainRows.count) accepted)")
    }
    return Split(trainRows: trainRows, holdoutRows: holdoutRows, positives: positives)
  }

  /// Every term the schema's features could give, customer features first.
  private static func candidates(schema: FeatureSchema, data: TrainingSet) -> [Candidate] {
    var candidates: [Candidate] = []
    func addFeatures(_ features: [FeatureDefinition], values: [Float], width: Int) {
      for (index, feature) in features.enumerated() {
        // Internal state (an event clock, moving averages) is never a model input.
        if feature.derive?.kind == .clock || feature.derive?.kind == .state { continue }
        let read: (Int) -> Float = { row in values[row * width + index] }
        switch feature.kind {
        case .numeric, .boolean: candidates.append(Candidate(feature: feature.name, level: nil, read: read, code: nil))
        case .categorical(let levels):
          for (code, level) in levels.enumerated().dropFirst() {
            candidates.append(Candidate(feature: feature.name, level: level, read: read, code: Float(code)))
          }
        }
      }
    }
    addFeatures(schema.customerFeatures, values: data.customerValues, width: data.customerWidth)
    addFeatures(schema.contextFeatures, values: data.contextValues, width: data.contextWidth)
    return candidates
  }

  /// The candidates with variance in the training rows, as terms with their mean and scale.
  private static func standardised(
    _ candidates: [Candidate], rows trainRows: [Int]
  ) -> (terms: [LogisticTerm], kept: [Candidate]) {
    var terms: [LogisticTerm] = []
    var kept: [Candidate] = []
    for candidate in candidates {
      var sum = 0.0, count = 0.0
      for row in trainRows { if let x = candidate.value(row) { sum += x; count += 1 } }
      guard count > 1 else { continue }
      let mean = sum / count
      var squares = 0.0
      for row in trainRows { if let x = candidate.value(row) { squares += (x - mean) * (x - mean) } }
      let scale = (squares / count).squareRoot()
      guard scale > 1e-9 else { continue }
      terms.append(
        LogisticTerm(feature: candidate.feature, level: candidate.level, mean: mean, scale: scale, weight: 0))
      kept.append(candidate)
    }
    return (terms, kept)
  }

  /// The standardised design matrix of `rows` (row-major, the intercept's column of ones first).
  private static func design(_ rows: [Int], terms: [LogisticTerm], kept: [Candidate]) -> [Double] {
    let d = terms.count + 1
    var x = [Double](repeating: 0, count: rows.count * d)
    for (r, row) in rows.enumerated() {
      x[r * d] = 1
      for (t, candidate) in kept.enumerated() {
        if let v = candidate.value(row) { x[r * d + t + 1] = (v - terms[t].mean) / terms[t].scale }
      }
    }
    return x
  }

  /// The log-odds of each of `rows` rows of a design matrix.
  private static func scores(_ x: [Double], rows: Int, beta: [Double]) -> [Double] {
    let d = beta.count
    return (0..<rows).map { r in
      var z = 0.0
      for j in 0..<d { z += x[r * d + j] * beta[j] }
      return z
    }
  }

  /// AUC on both sets and log loss on the hold-out.
  private func evaluate(
    _ split: Split, data: TrainingSet, xTrain: [Double], xHold: [Double], beta: [Double], iterations: Int
  ) -> TrainingMetrics {
    let trainRows = split.trainRows, holdoutRows = split.holdoutRows
    let trainScores = Self.scores(xTrain, rows: trainRows.count, beta: beta)
    let trainAUC = Self.auc(scores: trainScores, labels: trainRows.map { data.labels[$0] })
    let holdScores = Self.scores(xHold, rows: holdoutRows.count, beta: beta)
    let holdLabels = holdoutRows.map { data.labels[$0] }
    var logLoss = 0.0
    for (z, label) in zip(holdScores, holdLabels) {
      let p = min(max(sigmoid(z), 1e-15), 1 - 1e-15)
      logLoss -= label ? log(p) : log(1 - p)
    }
    return TrainingMetrics(
      trainRows: trainRows.count, holdoutRows: holdoutRows.count, trainPositives: split.positives,
      holdoutPositives: holdLabels.filter { $0 }.count, trainAUC: trainAUC,
      holdoutAUC: holdoutRows.isEmpty ? .nan : Self.auc(scores: holdScores, labels: holdLabels),
      holdoutLogLoss: holdoutRows.isEmpty ? .nan : logLoss / Double(holdoutRows.count),
      iterations: iterations, l2: l2)
  }

  /// Whether a customer belongs to the hold-out set (stable across runs).
  public func isHeldOut(_ group: UInt64) -> Bool {
    Double(SeededGenerator.mix(group, salt: splitSalt) >> 11) * 0x1.0p-53 < holdoutFraction
  }

  private func penalisedLoss(x: [Double], y: [Double], w: [Double], beta: [Double], d: Int) -> Double {
    var loss = 0.0
    for r in 0..<y.count {
      var z = 0.0
      for j in 0..<d { z += x[r * d + j] * beta[j] }
      // log(1 + e^z) - y z, computed stably
      loss += w[r] * ((z > 0 ? z + log1p(exp(-z)) : log1p(exp(z))) - y[r] * z)
    }
    for j in 1..<d { loss += 0.5 * l2 * beta[j] * beta[j] }
    return loss
  }

  private func fit(x: [Double], y: [Double], w: [Double], d: Int, offerId: String) throws(ArbiterError) -> (
    [Double], Int
  ) {
    let n = y.count
    var beta = [Double](repeating: 0, count: d)
    let mean = zip(y, w).reduce(0) { $0 + $1.0 * $1.1 } / w.reduce(0, +)
    beta[0] = log(mean / (1 - mean))
    var loss = penalisedLoss(x: x, y: y, w: w, beta: beta, d: d)
    var gradient = [Double](repeating: 0, count: d)
    var hessian = [Double](repeating: 0, count: d * d)
    for iteration in 1...maxIterations {
      for j in 0..<d { gradient[j] = j == 0 ? 0 : l2 * beta[j] }
      for j in 0..<(d * d) { hessian[j] = 0 }
      for j in 1..<d { hessian[j * d + j] = l2 }
      x.withUnsafeBufferPointer { xs in
        for r in 0..<n {
          let row = UnsafeBufferPointer(rebasing: xs[(r * d)..<((r + 1) * d)])
          var z = 0.0
          for j in 0..<d { z += row[j] * beta[j] }
          let p = sigmoid(z)
          let residual = (p - y[r]) * w[r]
          let weight = p * (1 - p) * w[r]
          for j in 0..<d {
            gradient[j] += residual * row[j]
            let wj = weight * row[j]
            if wj == 0 { continue }
            for k in j..<d { hessian[j * d + k] += wj * row[k] }
          }
        }
      }
      for j in 0..<d { for k in 0..<j { hessian[j * d + k] = hessian[k * d + j] } }
      guard let step = Self.choleskySolve(hessian, gradient, d: d) else {
        throw ArbiterError(
          .internalError, "offer '\(offerId)': Hessian not positive definite at iteration \(iteration)")
      }
      var factor = 1.0
      var candidate = beta
      var candidateLoss = loss
      for _ in 0..<30 {
        for j in 0..<d { candidate[j] = beta[j] - factor * step[j] }
        candidateLoss = penalisedLoss(x: x, y: y, w: w, beta: candidate, d: d)
        if candidateLoss <= loss { break }
        factor *= 0.5
      }
      let largest = (0..<d).map { abs(candidate[$0] - beta[$0]) }.max() ?? 0
      beta = candidate
      loss = candidateLoss
      if largest < 1e-9 { return (beta, iteration) }
    }
    return (beta, maxIterations)
  }

  /// Solves `a x = b` for a symmetric positive-definite `a` (row-major d×d); nil if not SPD.
  static func choleskySolve(_ a: [Double], _ b: [Double], d: Int) -> [Double]? {
    var l = [Double](repeating: 0, count: d * d)
    for i in 0..<d {
      for j in 0...i {
        var sum = a[i * d + j]
        for k in 0..<j { sum -= l[i * d + k] * l[j * d + k] }
        if i == j {
          guard sum > 0 else { return nil }
          l[i * d + i] = sum.squareRoot()
        } else {
          l[i * d + j] = sum / l[j * d + j]
        }
      }
    }
    var z = [Double](repeating: 0, count: d)
    for i in 0..<d {
      var sum = b[i]
      for k in 0..<i { sum -= l[i * d + k] * z[k] }
      z[i] = sum / l[i * d + i]
    }
    var x = [Double](repeating: 0, count: d)
    for i in stride(from: d - 1, through: 0, by: -1) {
      var sum = z[i]
      for k in (i + 1)..<d { sum -= l[k * d + i] * x[k] }
      x[i] = sum / l[i * d + i]
    }
    return x
  }

  /// Area under the ROC curve (Mann–Whitney U with average ranks for ties); NaN for one class.
  public static func auc(scores: [Double], labels: [Bool]) -> Double {
    let order = scores.indices.sorted { scores[$0] < scores[$1] || (scores[$0] == scores[$1] && $0 < $1) }
    var rankSumPositives = 0.0
    var positives = 0.0
    var i = 0
    while i < order.count {
      var j = i
      while j + 1 < order.count, scores[order[j + 1]] == scores[order[i]] { j += 1 }
      let averageRank = Double(i + j) / 2 + 1
      for k in i...j where labels[order[k]] { rankSumPositives += averageRank; positives += 1 }
      i = j + 1
    }
    let negatives = Double(labels.count) - positives
    guard positives > 0, negatives > 0 else { return .nan }
    return (rankSumPositives - positives * (positives + 1) / 2) / (positives * negatives)
  }
}

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif
