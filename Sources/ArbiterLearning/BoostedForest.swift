import ArbiterCore

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// A trained gradient-boosted forest for a binary target: its trees (the first carrying the
/// initial log-odds), the features it reads and how they were binned, and how it was trained.
/// Scores rows as LightGBM scores the same model: leaf values summed in `Double` in tree order,
/// probability `1 / (1 + exp(-score))`.
public struct BoostedForest: Sendable {
  /// The features, in the model's order (the table's schema).
  public let schema: FeatureSchema
  let trees: [LearnedTree]
  let bins: [FeatureBins]
  /// The settings it was trained with.
  public let parameters: BoostingParameters
  /// The round whose validation loss was best, when training stopped early (trees after it are dropped).
  public let bestRound: Int?

  init(schema: FeatureSchema, trees: [LearnedTree], bins: [FeatureBins], parameters: BoostingParameters, bestRound: Int?) {
    self.schema = schema
    self.trees = trees
    self.bins = bins
    self.parameters = parameters
    self.bestRound = bestRound
  }

  /// How many trees.
  public var treeCount: Int { trees.count }

  /// The raw score (log-odds) of a row of values in schema order.
  public func rawScore(_ values: some RandomAccessCollection<Float>) -> Double {
    let base = values.startIndex
    var sum = 0.0
    // By index: each tree is read in place, not copied (a copy retains its arrays).
    for t in trees.indices {
      sum += trees[t].leafValue[trees[t].leaf { values[values.index(base, offsetBy: $0)] }]
    }
    return sum
  }

  /// The probability of the positive class for a row of values in schema order.
  public func probability(_ values: some RandomAccessCollection<Float>) -> Double {
    1.0 / (1.0 + exp(-rawScore(values)))
  }

  /// The probabilities of every row of a table with the same features.
  public func probabilities(_ table: LabelledTable) -> [Double] {
    var row = [Float](repeating: 0, count: table.featureCount)
    return (0..<table.rowCount).map { r in
      for f in 0..<table.featureCount { row[f] = table.columns[f][r] }
      return probability(row)
    }
  }

  /// Total gain and number of splits per feature, in schema order (LightGBM's importance types).
  public var importance: (gain: [Double], splits: [Int]) {
    var gain = [Double](repeating: 0, count: schema.customerFeatures.count)
    var splits = [Int](repeating: 0, count: schema.customerFeatures.count)
    for tree in trees {
      for (f, g) in zip(tree.feature, tree.gain) {
        gain[f] += g
        splits[f] += 1
      }
    }
    return (gain, splits)
  }
}
