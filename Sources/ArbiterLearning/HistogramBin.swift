/// The sums of one histogram bin: gradients, hessians and rows.
struct HistogramBin: Sendable {
  var gradient = 0.0
  var hessian = 0.0
  var count = 0

  /// `self - other`, bin by bin (a sibling's histogram from its parent's).
  @inline(__always)
  static func - (a: HistogramBin, b: HistogramBin) -> HistogramBin {
    HistogramBin(gradient: a.gradient - b.gradient, hessian: a.hessian - b.hessian, count: a.count - b.count)
  }

  @inline(__always)
  static func += (a: inout HistogramBin, b: HistogramBin) {
    a.gradient += b.gradient
    a.hessian += b.hessian
    a.count += b.count
  }
}

/// The best split of one leaf found so far.
struct SplitCandidate: Sendable {
  /// The improvement of the loss over the leaf's own; valid only with a feature.
  var gain = -Double.infinity
  var feature = -1
  /// Numeric: the last bin on the left.
  var thresholdBin = 0
  /// Numeric: where the NaN bin goes.
  var defaultLeft = false
  /// Categorical: the bins that go left.
  var leftBins: [Int] = []
  var left = HistogramBin()
  var right = HistogramBin()
  /// The L2 the children's outputs use (a categorical split adds `cat_l2`).
  var l2 = 0.0

  var isValid: Bool { feature >= 0 }
}
