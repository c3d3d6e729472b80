import Dispatch

/// Grows one tree at a time, leaf-wise (always splitting the leaf whose best split gains most),
/// from histograms of gradient and hessian sums per bin. A split's smaller child gets its
/// histogram built from its rows; the larger one gets its parent's minus the smaller's. Histograms
/// are built on several threads, each taking a share of the features.
///
/// In stages per split: ``pickLeaf()`` (best gain), ``partition(leaf:split:newLeaf:)`` (the leaf's
/// rows, in place), ``buildChildHistograms(leaf:newLeaf:)`` and ``findBestSplit(leaf:)`` for both.
/// Buffers are allocated once per learner and reused by every tree.
final class HistogramTreeLearner {
  let data: BinnedColumns
  let parameters: BoostingParameters
  let threads: Int
  /// The bin NaN falls in, per feature (-1 when it has none).
  let missingBins: [Int]
  /// How many bins each feature has.
  let binCounts: [Int]
  /// Rows of every leaf, each leaf's rows contiguous and in ascending order.
  var indices: [Int32]
  var scratch: [Int32]
  var leafBegin: [Int]
  var leafRows: [Int]
  /// A histogram per leaf slot, `totalBins` bins each, in one allocation the learner owns.
  let histogramStorage: UnsafeMutablePointer<HistogramBin>
  var leafSums: [HistogramBin]
  var best: [SplitCandidate]
  /// The leaf's output before it is split (its value as a leaf), per leaf.
  var leafOutput: [Double]
  var orderedGradients: [Double]
  var orderedHessians: [Double]
  /// The features the current tree may use.
  var usable: [Int] = []
  /// The bin columns, copied into one allocation the learner owns, one pointer a feature.
  let columnStorage: UnsafeMutablePointer<UInt8>
  let columnPointers: [UnsafePointer<UInt8>]

  init(data: BinnedColumns, parameters: BoostingParameters, threads: Int) {
    self.data = data
    self.parameters = parameters
    self.threads = threads
    missingBins = data.bins.map { bins in
      switch bins.kind {
      case .numeric: bins.hasMissingBin ? bins.upperBounds.count : -1
      case .categorical: -1
      }
    }
    binCounts = data.bins.map(\.binCount)
    let n = data.rowCount
    let leaves = parameters.leaves
    indices = [Int32](repeating: 0, count: n)
    scratch = [Int32](repeating: 0, count: n)
    leafBegin = [Int](repeating: 0, count: leaves)
    leafRows = [Int](repeating: 0, count: leaves)
    histogramStorage = .allocate(capacity: max(1, leaves * data.totalBins))
    histogramStorage.initialize(repeating: HistogramBin(), count: max(1, leaves * data.totalBins))
    leafSums = [HistogramBin](repeating: HistogramBin(), count: leaves)
    best = [SplitCandidate](repeating: SplitCandidate(), count: leaves)
    leafOutput = [Double](repeating: 0, count: leaves)
    orderedGradients = [Double](repeating: 0, count: n)
    orderedHessians = [Double](repeating: 0, count: n)
    let storage = UnsafeMutablePointer<UInt8>.allocate(capacity: max(1, data.flat.count))
    storage.initialize(from: data.flat, count: data.flat.count)
    columnStorage = storage
    columnPointers = (0..<data.bins.count).map { UnsafePointer(storage + $0 * n) }
  }

  deinit {
    columnStorage.deallocate()
    histogramStorage.deallocate()
  }

  /// The histogram in leaf slot `slot`.
  @inline(__always)
  func histogram(_ slot: Int) -> UnsafeMutablePointer<HistogramBin> { histogramStorage + slot * data.totalBins }

  /// Grows a tree on `rows` (ascending; all rows or a bag) with the features `usable`, from the
  /// rows' gradients and hessians. Leaf values are not yet shrunk.
  func grow(rows: [Int32], usable: [Int], gradients: [Float], hessians: [Float]) -> LearnedTree {
    self.usable = usable
    var tree = LearnedTree()
    indices.withUnsafeMutableBufferPointer { $0.baseAddress!.update(from: rows, count: rows.count) }
    leafBegin[0] = 0
    leafRows[0] = rows.count
    var sums = HistogramBin()
    for row in rows {
      sums.gradient += Double(gradients[Int(row)])
      sums.hessian += Double(hessians[Int(row)])
    }
    sums.count = rows.count
    leafSums[0] = sums
    leafOutput[0] = leafValue(sums, l2: parameters.l2)
    tree.leafValue[0] = leafOutput[0]
    tree.leafWeight[0] = sums.hessian
    tree.leafCount[0] = sums.count
    gradients.withUnsafeBufferPointer { g in
      hessians.withUnsafeBufferPointer { h in
        buildHistogram(leaf: 0, slot: 0, gradients: g, hessians: h)
        findBestSplit(leaf: 0, depth: 0)
        while tree.numberOfLeaves < parameters.leaves, let leaf = pickLeaf(tree.numberOfLeaves) {
          let split = best[leaf]
          let newLeaf = apply(split, to: leaf, in: &tree)
          partition(leaf: leaf, split: split, newLeaf: newLeaf)
          leafSums[leaf] = split.left
          leafSums[newLeaf] = split.right
          leafOutput[leaf] = leafValue(split.left, l2: split.l2)
          leafOutput[newLeaf] = leafValue(split.right, l2: split.l2)
          for (child, childSums) in [(leaf, split.left), (newLeaf, split.right)] {
            tree.leafValue[child] = leafOutput[child]
            tree.leafWeight[child] = childSums.hessian
            tree.leafCount[child] = childSums.count
          }
          buildChildHistograms(leaf: leaf, newLeaf: newLeaf, gradients: g, hessians: h)
          findBestSplit(leaf: leaf, depth: tree.leafDepth[leaf])
          findBestSplit(leaf: newLeaf, depth: tree.leafDepth[newLeaf])
        }
      }
    }
    return tree
  }

  /// The leaf whose best split gains most, nil when none can be split.
  func pickLeaf(_ count: Int) -> Int? {
    var chosen: Int?
    for leaf in 0..<count where best[leaf].isValid {
      if chosen == nil || best[leaf].gain > best[chosen!].gain { chosen = leaf }
    }
    return chosen
  }

  /// Records the split in the tree; returns the new (right) leaf.
  func apply(_ split: SplitCandidate, to leaf: Int, in tree: inout LearnedTree) -> Int {
    let bins = data.bins[split.feature]
    let sums = leafSums[leaf]
    switch bins.kind {
    case .numeric:
      return tree.split(
        leaf: leaf, feature: split.feature, gain: split.gain, thresholdBin: split.thresholdBin,
        threshold: bins.upperBounds[split.thresholdBin], defaultLeft: split.defaultLeft,
        missingIsNaN: bins.hasMissingBin, leftCategories: [], leftBins: [], parentValue: leafOutput[leaf],
        parentWeight: sums.hessian, parentCount: sums.count)
    case .categorical:
      var mask = [Bool](repeating: false, count: bins.binCount)
      for bin in split.leftBins { mask[bin] = true }
      return tree.split(
        leaf: leaf, feature: split.feature, gain: split.gain, thresholdBin: 0, threshold: 0, defaultLeft: false,
        missingIsNaN: !bins.coversAllRows, leftCategories: split.leftBins.map { bins.categories[$0] }.sorted(),
        leftBins: mask, parentValue: leafOutput[leaf], parentWeight: sums.hessian, parentCount: sums.count)
    }
  }

  /// Moves the leaf's rows that go right after its rows that go left, both in ascending order;
  /// the left ones stay the leaf's, the right ones become `newLeaf`'s.
  func partition(leaf: Int, split: SplitCandidate, newLeaf: Int) {
    let begin = leafBegin[leaf], count = leafRows[leaf]
    let column = UnsafeBufferPointer(start: columnPointers[split.feature], count: data.rowCount)
    let bins = data.bins[split.feature]
    var goesLeft = [Bool](repeating: false, count: bins.binCount)
    switch bins.kind {
    case .numeric:
      for bin in 0..<bins.binCount { goesLeft[bin] = bin <= split.thresholdBin }
      if bins.hasMissingBin { goesLeft[bins.upperBounds.count] = split.defaultLeft }
    case .categorical:
      for bin in split.leftBins { goesLeft[bin] = true }
    }
    var leftCount = 0
    var rightCount = 0
    do {
      goesLeft.withUnsafeBufferPointer { goesLeft in
        indices.withUnsafeMutableBufferPointer { indices in
          scratch.withUnsafeMutableBufferPointer { scratch in
            for k in begin..<(begin + count) {
              let row = indices[k]
              if goesLeft[Int(column[Int(row)])] {
                indices[begin + leftCount] = row
                leftCount += 1
              } else {
                scratch[rightCount] = row
                rightCount += 1
              }
            }
            for k in 0..<rightCount { indices[begin + leftCount + k] = scratch[k] }
          }
        }
      }
    }
    leafRows[leaf] = leftCount
    leafBegin[newLeaf] = begin + leftCount
    leafRows[newLeaf] = rightCount
  }

  /// Adds each leaf's value to the scores of the rows it holds (the rows the tree was grown on).
  func addLeafValues(of tree: LearnedTree, to scores: inout [Double], delta: Double) {
    indices.withUnsafeBufferPointer { indices in
      for leaf in 0..<tree.numberOfLeaves {
        let value = tree.leafValue[leaf] + delta
        for k in leafBegin[leaf]..<(leafBegin[leaf] + leafRows[leaf]) { scores[Int(indices[k])] += value }
      }
    }
  }

  /// The smaller child's histogram from its rows, the larger's as the parent's minus it. The
  /// parent's histogram is in `leaf`'s slot.
  func buildChildHistograms(
    leaf: Int, newLeaf: Int, gradients: UnsafeBufferPointer<Float>, hessians: UnsafeBufferPointer<Float>
  ) {
    if leafRows[newLeaf] <= leafRows[leaf] {
      buildHistogram(leaf: newLeaf, slot: newLeaf, gradients: gradients, hessians: hessians)
      subtract(from: leaf, the: newLeaf)
    } else {
      histogram(newLeaf).update(from: histogram(leaf), count: data.totalBins)
      buildHistogram(leaf: leaf, slot: leaf, gradients: gradients, hessians: hessians)
      subtract(from: newLeaf, the: leaf)
    }
  }

  /// `histograms[target] -= histograms[source]` over the usable features' bins.
  func subtract(from target: Int, the source: Int) {
    let target = histogram(target), source = histogram(source)
    for f in usable {
      let start = data.offsets[f]
      for b in start..<(start + binCounts[f]) { target[b] = target[b] - source[b] }
    }
  }

  /// Sums the leaf's rows into the histogram in `slot`, feature by feature, the features shared
  /// among the threads when the leaf is large enough to pay for them.
  func buildHistogram(
    leaf: Int, slot: Int, gradients: UnsafeBufferPointer<Float>, hessians: UnsafeBufferPointer<Float>
  ) {
    let begin = leafBegin[leaf], count = leafRows[leaf]
    let features = usable
    let offsets = data.offsets
    let binCounts = self.binCounts
    indices.withUnsafeBufferPointer { indices in
      orderedGradients.withUnsafeMutableBufferPointer { og in
        orderedHessians.withUnsafeMutableBufferPointer { oh in
          for k in 0..<count {
            let row = Int(indices[begin + k])
            og[k] = Double(gradients[row])
            oh[k] = Double(hessians[row])
          }
          let rows = UnsafeBufferPointer(rebasing: indices[begin..<(begin + count)])
          do {
            let shares = count * features.count >= 40_000 ? min(threads, features.count) : 1
            let job = HistogramJob(
              features: features, offsets: offsets, binCounts: binCounts, columns: columnPointers, rows: rows,
              gradients: UnsafeBufferPointer(og), hessians: UnsafeBufferPointer(oh), histogram: histogram(slot),
              shares: shares)
            if shares == 1 {
              job.run(share: 0)
            } else {
              DispatchQueue.concurrentPerform(iterations: shares) { job.run(share: $0) }
            }
          }
        }
      }
    }
  }

  /// LightGBM's `ThresholdL1`: the gradient sum shrunk toward 0 by `l1`.
  @inline(__always)
  func shrunk(_ gradient: Double) -> Double {
    let l1 = parameters.l1
    guard l1 > 0 else { return gradient }
    let magnitude = abs(gradient) - l1
    return magnitude > 0 ? (gradient > 0 ? magnitude : -magnitude) : 0
  }

  /// The output of a leaf with these sums (before shrinkage).
  @inline(__always)
  func leafValue(_ sums: HistogramBin, l2: Double) -> Double { -shrunk(sums.gradient) / (sums.hessian + l2) }

  /// The loss reduction a leaf with these sums makes.
  @inline(__always)
  func leafGain(gradient: Double, hessian: Double, l2: Double) -> Double {
    let g = shrunk(gradient)
    return g * g / (hessian + l2)
  }
}

/// One histogram's build, shared among threads by feature: share `k` sums features `k`,
/// `k + shares`, … The pointers are valid for the build (the learner's buffers); every share
/// writes only its own features' bins.
struct HistogramJob: @unchecked Sendable {
  let features: [Int]
  let offsets: [Int]
  let binCounts: [Int]
  let columns: [UnsafePointer<UInt8>]
  let rows: UnsafeBufferPointer<Int32>
  let gradients: UnsafeBufferPointer<Double>
  let hessians: UnsafeBufferPointer<Double>
  let histogram: UnsafeMutablePointer<HistogramBin>
  let shares: Int

  func run(share: Int) {
    // This share's features, four at a time: one pass over the rows reads each row's index,
    // gradient and hessian once for four features.
    let mine = stride(from: share, to: features.count, by: shares).map { features[$0] }
    for f in mine { (histogram + offsets[f]).update(repeating: HistogramBin(), count: binCounts[f]) }
    var i = 0
    while i + 4 <= mine.count {
      Self.accumulate4(
        columns: (columns[mine[i]], columns[mine[i + 1]], columns[mine[i + 2]], columns[mine[i + 3]]),
        bins: (
          histogram + offsets[mine[i]], histogram + offsets[mine[i + 1]], histogram + offsets[mine[i + 2]],
          histogram + offsets[mine[i + 3]]
        ), rows: rows, gradients: gradients, hessians: hessians)
      i += 4
    }
    while i < mine.count {
      let f = mine[i]
      Self.accumulate(column: columns[f], rows: rows, gradients: gradients, hessians: hessians, into: histogram + offsets[f])
      i += 1
    }
  }

  /// Four features' bins summed in one pass over the rows.
  @inline(__always)
  static func accumulate4(
    columns: (UnsafePointer<UInt8>, UnsafePointer<UInt8>, UnsafePointer<UInt8>, UnsafePointer<UInt8>),
    bins: (
      UnsafeMutablePointer<HistogramBin>, UnsafeMutablePointer<HistogramBin>, UnsafeMutablePointer<HistogramBin>,
      UnsafeMutablePointer<HistogramBin>
    ),
    rows: UnsafeBufferPointer<Int32>, gradients: UnsafeBufferPointer<Double>, hessians: UnsafeBufferPointer<Double>
  ) {
    for k in 0..<rows.count {
      let row = Int(rows[k])
      let g = gradients[k], h = hessians[k]
      let b0 = Int(columns.0[row]), b1 = Int(columns.1[row]), b2 = Int(columns.2[row]), b3 = Int(columns.3[row])
      bins.0[b0].gradient += g
      bins.0[b0].hessian += h
      bins.0[b0].count += 1
      bins.1[b1].gradient += g
      bins.1[b1].hessian += h
      bins.1[b1].count += 1
      bins.2[b2].gradient += g
      bins.2[b2].hessian += h
      bins.2[b2].count += 1
      bins.3[b3].gradient += g
      bins.3[b3].hessian += h
      bins.3[b3].count += 1
    }
  }

  /// The hot loop: one feature's bins summed over the rows.
  @inline(__always)
  static func accumulate(
    column: UnsafePointer<UInt8>, rows: UnsafeBufferPointer<Int32>, gradients: UnsafeBufferPointer<Double>,
    hessians: UnsafeBufferPointer<Double>, into bins: UnsafeMutablePointer<HistogramBin>
  ) {
    for k in 0..<rows.count {
      let bin = Int(column[Int(rows[k])])
      bins[bin].gradient += gradients[k]
      bins[bin].hessian += hessians[k]
      bins[bin].count += 1
    }
  }

}
