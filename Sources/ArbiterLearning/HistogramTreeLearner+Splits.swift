/// Split search over a leaf's histogram, as LightGBM's `FeatureHistogram` searches: numeric
/// features scanned from both ends (NaN going left in one scan, right in the other), categorical
/// ones one-vs-rest when they have few categories, else by categories sorted on their smoothed
/// gradient ratio, taken from either end.
extension HistogramTreeLearner {
  /// The best split of `leaf` over the usable features, stored in `best[leaf]` (invalid when
  /// none gains, the leaf is at the depth limit or too small to split).
  func findBestSplit(leaf: Int, depth: Int) {
    var chosen = SplitCandidate()
    let sums = leafSums[leaf]
    if let limit = parameters.maxDepth, depth >= limit {
      best[leaf] = chosen
      return
    }
    if sums.count < 2 * parameters.minimumRowsPerLeaf || sums.hessian < 2 * parameters.minimumHessianPerLeaf {
      best[leaf] = chosen
      return
    }
    let parentGain = leafGain(gradient: sums.gradient, hessian: sums.hessian, l2: parameters.l2)
    let minimumShift = parentGain + parameters.minimumGain
    do {
      let histogram = UnsafePointer(histogram(leaf))
      for f in usable {
        let bins = data.bins[f]
        let start = histogram + data.offsets[f]
        let candidate: SplitCandidate?
        switch bins.kind {
        case .numeric: candidate = numericSplit(feature: f, bins: bins, histogram: start, sums: sums, shift: minimumShift)
        case .categorical:
          candidate = categoricalSplit(feature: f, bins: bins, histogram: start, sums: sums, shift: minimumShift)
        }
        if let candidate, candidate.gain > chosen.gain { chosen = candidate }
      }
    }
    if chosen.isValid { chosen.gain -= minimumShift }
    best[leaf] = chosen
  }

  /// The loss reduction of two children.
  @inline(__always)
  func splitGain(_ left: HistogramBin, _ right: HistogramBin, l2: Double) -> Double {
    leafGain(gradient: left.gradient, hessian: left.hessian, l2: l2)
      + leafGain(gradient: right.gradient, hessian: right.hessian, l2: l2)
  }

  /// Whether a side may be a leaf.
  @inline(__always)
  func allowed(_ side: HistogramBin) -> Bool {
    side.count >= parameters.minimumRowsPerLeaf && side.hessian >= parameters.minimumHessianPerLeaf
  }

  /// A numeric feature's best threshold. The reverse scan puts the NaN bin on the left, the
  /// forward scan (only when there is one) on the right; a split keeps the first best it finds.
  func numericSplit(
    feature: Int, bins: FeatureBins, histogram: UnsafePointer<HistogramBin>, sums: HistogramBin, shift: Double
  ) -> SplitCandidate? {
    let valueBins = bins.upperBounds.count
    let l2 = parameters.l2
    var bestGain = shift
    var found: SplitCandidate?
    var right = HistogramBin()
    var t = valueBins - 1
    while t >= 1 {
      right += histogram[t]
      t -= 1
      guard allowed(right) else { continue }
      let left = sums - right
      guard allowed(left) else { break }
      let gain = splitGain(left, right, l2: l2)
      if gain > bestGain {
        bestGain = gain
        found = SplitCandidate(
          gain: gain, feature: feature, thresholdBin: t, defaultLeft: true, left: left, right: right, l2: l2)
      }
    }
    guard bins.hasMissingBin else { return found }
    var left = HistogramBin()
    for t in 0..<valueBins {
      left += histogram[t]
      guard allowed(left) else { continue }
      let right = sums - left
      guard allowed(right) else { break }
      let gain = splitGain(left, right, l2: l2)
      if gain > bestGain {
        bestGain = gain
        found = SplitCandidate(
          gain: gain, feature: feature, thresholdBin: t, defaultLeft: false, left: left, right: right, l2: l2)
      }
    }
    return found
  }

  /// A categorical feature's best set of categories to send left. The "other" bin (rare and
  /// unseen categories, NaN) always goes right.
  func categoricalSplit(
    feature: Int, bins: FeatureBins, histogram: UnsafePointer<HistogramBin>, sums: HistogramBin, shift: Double
  ) -> SplitCandidate? {
    let used = bins.categories.count
    let binsLikeLightGBM = used + (bins.coversAllRows ? 0 : 1)
    var bestGain = shift
    var found: SplitCandidate?
    if binsLikeLightGBM <= parameters.oneHotCategoriesUpTo {
      let l2 = parameters.l2
      for b in 0..<used {
        let this = histogram[b]
        guard allowed(this) else { continue }
        let other = sums - this
        guard allowed(other) else { continue }
        let gain = splitGain(this, other, l2: l2)
        if gain > bestGain {
          bestGain = gain
          found = SplitCandidate(gain: gain, feature: feature, leftBins: [b], left: this, right: other, l2: l2)
        }
      }
      return found
    }
    let smoothing = parameters.categorySmoothing
    var sorted = (0..<used).filter { Double(histogram[$0].count) >= smoothing }
    sorted.sort {
      histogram[$0].gradient / (histogram[$0].hessian + smoothing)
        < histogram[$1].gradient / (histogram[$1].hessian + smoothing)
    }
    let l2 = parameters.l2 + parameters.categoryL2
    let most = min(parameters.maxCategoriesPerSplit, (sorted.count + 1) / 2)
    let groupMinimum = parameters.minimumRowsPerCategoryGroup
    for direction in [1, -1] {
      var left = HistogramBin()
      var inGroup = 0
      var position = direction == 1 ? 0 : sorted.count - 1
      var bestCount = -1
      var bestLeft = HistogramBin()
      var directionGain = bestGain
      for i in 0..<min(sorted.count, most) {
        let bin = sorted[position]
        position += direction
        left += histogram[bin]
        inGroup += histogram[bin].count
        guard allowed(left) else { continue }
        let right = sums - left
        if right.count < parameters.minimumRowsPerLeaf || right.count < groupMinimum
          || right.hessian < parameters.minimumHessianPerLeaf
        {
          break
        }
        guard inGroup >= groupMinimum else { continue }
        inGroup = 0
        let gain = splitGain(left, right, l2: l2)
        if gain > directionGain {
          directionGain = gain
          bestCount = i + 1
          bestLeft = left
        }
      }
      if bestCount > 0 {
        bestGain = directionGain
        let chosen = direction == 1 ? Array(sorted.prefix(bestCount)) : Array(sorted.suffix(bestCount).reversed())
        found = SplitCandidate(
          gain: directionGain, feature: feature, leftBins: chosen, left: bestLeft, right: sums - bestLeft, l2: l2)
      }
    }
    return found
  }
}
