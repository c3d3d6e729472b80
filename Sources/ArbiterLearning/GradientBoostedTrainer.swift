import ArbiterCore
import Dispatch

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Trains a ``BoostedForest`` for a binary target by gradient boosting on the log-loss, as
/// LightGBM's `gbdt` with the `binary` objective does: the first score the log-odds of the
/// (weighted) positive share, each round a tree grown leaf-wise on the gradients and hessians
/// (``HistogramTreeLearner``), shrunk by the learning rate; optionally rows and features drawn per
/// round, and a stop when the validation loss has not improved for a number of rounds.
///
/// In stages per round: ``Round/gradients``, the draws, the tree, the score updates, the
/// validation check.
public struct GradientBoostedTrainer: Sendable {
  /// What one round reports.
  public struct Progress: Sendable {
    /// The round, from 1.
    public var round: Int
    /// The tree's leaves.
    public var leaves: Int
    /// The validation log-loss after it, when there is a validation set.
    public var validationLoss: Double?
  }

  /// The settings.
  public var parameters: BoostingParameters

  /// A trainer with these settings.
  public init(parameters: BoostingParameters = BoostingParameters()) { self.parameters = parameters }

  /// Trains on `table`, checking `validation` (the same features) each round when given.
  /// Refuses, naming the problem: a bad setting, no rows, or a target of one class only.
  public func train(
    _ table: LabelledTable, validation: LabelledTable? = nil, progress: ((Progress) -> Void)? = nil
  ) throws(ArbiterError) -> BoostedForest {
    if let problem = parameters.problem { throw ArbiterError(.invalidArgument, problem) }
    guard table.rowCount > 0 else { throw ArbiterError(.invalidArgument, "no rows to train on") }
    let positives = table.positiveCount
    guard positives > 0, positives < table.rowCount else {
      throw ArbiterError(
        .invalidArgument,
        "the target is constant (\(positives == 0 ? "no" : "every") row is positive); nothing to learn")
    }
    let data = BinnedColumns(fitting: table, parameters: parameters)
    let threads = parameters.threads ?? max(1, ProcessInfoCores.count)
    let learner = HistogramTreeLearner(data: data, parameters: parameters, threads: threads)
    let n = table.rowCount
    let labels = table.labels
    let weights = labels.map { $0 ? parameters.positiveWeight : 1.0 }
    let weightedPositives = zip(labels, weights).reduce(0.0) { $0 + ($1.0 ? $1.1 : 0) }
    let share = weightedPositives / weights.reduce(0, +)
    let initialScore = log(share / (1 - share))
    var scores = [Double](repeating: initialScore, count: n)
    var gradients = [Float](repeating: 0, count: n)
    var hessians = [Float](repeating: 0, count: n)
    let candidates = (0..<data.bins.count).filter { !data.bins[$0].isTrivial }
    let validationData = validation.map { BinnedColumns(bins: data.bins, table: $0) }
    var validationScores = [Double](repeating: initialScore, count: validation?.rowCount ?? 0)
    var random = SeededGenerator(seed: parameters.seed)
    var trees: [LearnedTree] = []
    var bestLoss = Double.infinity
    var bestRound = 0
    var bag = (0..<Int32(n)).map { $0 }
    let bagEvery = parameters.rowFraction < 1 ? max(1, parameters.rowFractionEvery) : 0

    for round in 0..<parameters.rounds {
      for i in 0..<n {
        let p = 1 / (1 + exp(-scores[i]))
        gradients[i] = Float((p - (labels[i] ? 1 : 0)) * weights[i])
        hessians[i] = Float(p * (1 - p) * weights[i])
      }
      if bagEvery > 0, round % bagEvery == 0 {
        let wanted = max(1, Int(Double(n) * parameters.rowFraction))
        bag = Self.draw(wanted, of: n, random: &random)
      }
      var usable = candidates
      if parameters.featureFraction < 1, !candidates.isEmpty {
        let wanted = max(1, Int((Double(candidates.count) * parameters.featureFraction).rounded()))
        usable = Self.draw(wanted, of: candidates.count, random: &random).map { candidates[Int($0)] }
      }
      var tree = learner.grow(rows: bag, usable: usable, gradients: gradients, hessians: hessians)
      if tree.numberOfLeaves == 1 && round > 0 { break }
      tree.scale(by: parameters.learningRate)
      if round == 0 { tree.add(bias: initialScore) }
      let delta = round == 0 ? -initialScore : 0
      if bag.count == n {
        learner.addLeafValues(of: tree, to: &scores, delta: delta)
      } else {
        Self.addScores(of: tree, data: data, missingBins: learner.missingBins, to: &scores, delta: delta)
      }
      trees.append(tree)
      var loss: Double?
      if let validation, let validationData {
        Self.addScores(
          of: tree, data: validationData, missingBins: learner.missingBins, to: &validationScores, delta: delta)
        let current = BinaryMetrics.logLoss(scores: validationScores, labels: validation.labels)
        loss = current
        if current < bestLoss {
          bestLoss = current
          bestRound = round
        } else if let patience = parameters.earlyStoppingRounds, round - bestRound >= patience {
          progress?(Progress(round: round + 1, leaves: tree.numberOfLeaves, validationLoss: current))
          break
        }
      }
      progress?(Progress(round: round + 1, leaves: tree.numberOfLeaves, validationLoss: loss))
    }
    var stoppedAt: Int?
    if parameters.earlyStoppingRounds != nil, validation != nil, bestRound + 1 < trees.count {
      trees.removeLast(trees.count - bestRound - 1)
      stoppedAt = bestRound + 1
    }
    return BoostedForest(
      schema: table.schema, trees: trees, bins: data.bins, parameters: parameters, bestRound: stoppedAt)
  }

  /// `wanted` distinct numbers below `count`, ascending.
  static func draw(_ wanted: Int, of count: Int, random: inout SeededGenerator) -> [Int32] {
    var all = (0..<Int32(count)).map { $0 }
    for i in 0..<min(wanted, count) {
      all.swapAt(i, i + random.below(count - i))
    }
    return all.prefix(wanted).sorted()
  }

  /// Adds the tree's output to every row's score (minus `delta`, which takes the initial score
  /// back out of the first tree, already in the scores).
  static func addScores(
    of tree: LearnedTree, data: BinnedColumns, missingBins: [Int], to scores: inout [Double], delta: Double
  ) {
    data.flat.withUnsafeBufferPointer { flat in
      missingBins.withUnsafeBufferPointer { missing in
        for row in 0..<data.rowCount {
          scores[row] +=
            tree.leafValue[tree.leaf(binned: flat, rowCount: data.rowCount, row: row, missingBins: missing)] + delta
        }
      }
    }
  }
}

/// The machine's active processor count.
enum ProcessInfoCores {
  static var count: Int { Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))) }
}
