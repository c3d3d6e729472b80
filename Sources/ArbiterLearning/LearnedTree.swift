/// One boosted tree as the trainer grew it, in LightGBM's layout: split nodes numbered in the
/// order they were made, children a node index or `~leaf`, leaves numbered as they were made.
/// Each split keeps both its bin threshold (to score binned rows) and its value threshold.
struct LearnedTree: Sendable {
  /// Split nodes.
  var feature: [Int] = []
  var gain: [Double] = []
  /// Numeric: the last bin on the left; categorical: unused.
  var thresholdBin: [Int] = []
  /// Numeric: `x <= threshold` goes left.
  var threshold: [Double] = []
  /// Where NaN goes (numeric features that had NaN in training; other NaN is read as 0).
  var defaultLeft: [Bool] = []
  /// Whether NaN had a bin of its own when the split was made.
  var missingIsNaN: [Bool] = []
  /// Categorical: the categories that go left (empty for a numeric split).
  var leftCategories: [[Int]] = []
  /// Categorical: by bin, whether it goes left.
  var leftBins: [[Bool]] = []
  var left: [Int] = []
  var right: [Int] = []
  var internalValue: [Double] = []
  var internalWeight: [Double] = []
  var internalCount: [Int] = []
  /// Leaves.
  var leafValue: [Double] = [0]
  var leafWeight: [Double] = [0]
  var leafCount: [Int] = [0]
  var leafDepth: [Int] = [0]
  /// The split node above each leaf and which side the leaf is on (-1 for the root leaf).
  var leafParent: [Int] = [-1]

  /// How many leaves.
  var numberOfLeaves: Int { leafValue.count }
  /// Whether the node is categorical.
  func isCategorical(_ node: Int) -> Bool { !leftCategories[node].isEmpty }

  /// Splits `leaf` into itself (left) and a new leaf (right); returns the new leaf's number.
  mutating func split(
    leaf: Int, feature: Int, gain: Double, thresholdBin: Int, threshold: Double, defaultLeft: Bool,
    missingIsNaN: Bool, leftCategories: [Int], leftBins: [Bool],
    parentValue: Double, parentWeight: Double, parentCount: Int
  ) -> Int {
    let node = self.feature.count
    let newLeaf = leafValue.count
    if leafParent[leaf] >= 0 {
      let parent = leafParent[leaf]
      if left[parent] == ~leaf { left[parent] = node } else { right[parent] = node }
    }
    self.feature.append(feature)
    self.gain.append(gain)
    self.thresholdBin.append(thresholdBin)
    self.threshold.append(threshold)
    self.defaultLeft.append(defaultLeft)
    self.missingIsNaN.append(missingIsNaN)
    self.leftCategories.append(leftCategories)
    self.leftBins.append(leftBins)
    left.append(~leaf)
    right.append(~newLeaf)
    internalValue.append(parentValue)
    internalWeight.append(parentWeight)
    internalCount.append(parentCount)
    leafParent[leaf] = node
    leafParent.append(node)
    let depth = leafDepth[leaf] + 1
    leafDepth[leaf] = depth
    leafDepth.append(depth)
    leafValue.append(0)
    leafWeight.append(0)
    leafCount.append(0)
    return newLeaf
  }

  /// The leaf a row of bins falls in.
  @inline(__always)
  func leaf(binned flat: UnsafeBufferPointer<UInt8>, rowCount: Int, row: Int, missingBins: UnsafeBufferPointer<Int>)
    -> Int
  {
    guard !feature.isEmpty else { return 0 }
    var node = 0
    while node >= 0 {
      let f = feature[node]
      let bin = Int(flat[f * rowCount + row])
      let goLeft: Bool
      if !leftCategories[node].isEmpty {
        goLeft = leftBins[node][bin]
      } else if bin == missingBins[f] {
        goLeft = defaultLeft[node]
      } else {
        goLeft = bin <= thresholdBin[node]
      }
      node = goLeft ? left[node] : right[node]
    }
    return ~node
  }

  /// The leaf a row of values falls in, by LightGBM's rules: `x <= threshold`; NaN to the default
  /// side when the feature had NaN in training, else read as 0; a category left when in the set,
  /// NaN and negative categories right.
  func leaf(values: (Int) -> Float) -> Int {
    guard !feature.isEmpty else { return 0 }
    var node = 0
    while node >= 0 {
      var value = values(feature[node])
      let goLeft: Bool
      if !leftCategories[node].isEmpty {
        goLeft = !value.isNaN && value >= 0 && leftCategories[node].contains(Int(value))
      } else if value.isNaN && missingIsNaN[node] {
        goLeft = defaultLeft[node]
      } else {
        if value.isNaN || abs(Double(value)) <= FeatureBins.zeroThreshold { value = 0 }
        goLeft = Double(value) <= threshold[node]
      }
      node = goLeft ? left[node] : right[node]
    }
    return ~node
  }

  /// Multiplies every output by `factor` (shrinkage).
  mutating func scale(by factor: Double) {
    for i in leafValue.indices { leafValue[i] *= factor }
    for i in internalValue.indices { internalValue[i] *= factor }
  }

  /// Adds `bias` to every output (the first tree carries the initial score, as in LightGBM).
  mutating func add(bias: Double) {
    for i in leafValue.indices { leafValue[i] += bias }
    for i in internalValue.indices { internalValue[i] += bias }
  }
}
