import ArbiterCore

/// The hot-path form of a ``TreeEnsemble``: QuickScorer (Lucchese et al., SIGIR 2015), eight rows
/// at a time in SIMD lanes.
///
/// Instead of walking each tree, every split is visited feature by feature in threshold order.
/// A split whose test is false for a row (the row goes right) removes the leaves of its left
/// subtree from that row's bitvector of the tree; the row's exit leaf is then the leftmost leaf
/// still set. Splits with a threshold at or above the largest value among the eight rows can't
/// be false for any of them, so each feature's scan stops there. There are no data-dependent
/// branches per node: the work is compare, select and AND on eight lanes at once.
///
/// Exact for float32 inputs:
/// - LightGBM `x <= t` (double) ⟺ `x <= f` where `f` is the largest float not above `t`; for
///   LightGBM's `t = +inf` ("missing against everything else") `f` is +inf, above no value.
/// - XGBoost `x < t` (float) ⟺ `x <= t.nextDown`.
/// - Missing values: a separate list per feature of the splits that send NaN right (LightGBM
///   "NaN" missing type and XGBoost by default direction; LightGBM type "none" scores NaN as 0).
/// - Categorical splits (categories below 32) test each lane's one-hot category against the
///   split's set; NaN and out-of-range categories go right.
/// Models this form can't express (LightGBM missing type "zero", categories ≥ 32, trees with
/// more than 64 leaves) are scored by the reference walk instead; ``isQuick`` says which.
final class QuickScorerForest: @unchecked Sendable {
  /// One run of splits: feature-sorted entries `start..<end` of the parallel arrays.
  struct Run {
    var feature: Int
    var start: Int
    var end: Int
  }

  let isQuick: Bool
  /// Whether every tree has at most 32 leaves (32-bit bitvectors) or needs 64.
  let narrow: Bool
  let treeCount: Int
  /// Per tree: where its leaves start in `leafOrder`; leaf position (left to right) → leaf index.
  let treeLeafStart: [Int32]
  let leafOrder: [Int32]
  let leaves: [Double]
  /// Numeric splits, per feature ascending by threshold.
  let numericRuns: [Run]
  /// Splits sending a missing value right, per feature.
  let missingRuns: [Run]
  let categoricalRuns: [Run]
  let thresholds: [Float]
  let categories: [UInt32]
  let trees: [UInt32]
  /// The bitvector of leaves that stay possible when the split is false (left subtree cleared).
  let masks: [UInt64]

  /// Lays the trees out in stages: leaf order and split masks per tree (``LeafLayout``), one entry
  /// per split test (`entries`), sorted into runs per kind and feature (``SplitRuns``). Load time
  /// only: the kernel (`accumulate`) reads the arrays, laid out as before.
  init(
    convention: TreeEnsemble.Convention, roots: [Int32], features: [Int32], thresholds splitThresholds: [Double],
    left: [Int32],
    right: [Int32], flags: [UInt8], bitsetStart: [Int32], bitsetLength: [Int32], bitsets: [UInt32],
    leaves leafValues: [Double]
  ) {
    leaves = leafValues
    treeCount = roots.count
    let layout = LeafLayout(roots: roots, left: left, right: right, splitCount: features.count)
    narrow = layout.widest <= 32
    var (entries, quick) = Self.entries(
      convention: convention, features: features, thresholds: splitThresholds, flags: flags, bitsetStart: bitsetStart,
      bitsetLength: bitsetLength, bitsets: bitsets)
    if layout.widest > 64 { quick = false }
    entries.sort { a, b in
      (a.kind, a.feature, a.threshold, a.split) < (b.kind, b.feature, b.threshold, b.split)
    }
    let runs = SplitRuns(entries, layout: layout)
    numericRuns = runs.byKind[0]
    missingRuns = runs.byKind[1]
    categoricalRuns = runs.byKind[2]
    self.thresholds = runs.thresholds
    self.categories = runs.categories
    self.trees = runs.trees
    self.masks = runs.masks
    self.treeLeafStart = layout.treeLeafStart
    self.leafOrder = layout.leafOrder
    isQuick = quick
  }

  /// One test of a split: numeric (kind 0), missing value (1) or categorical (2).
  struct Entry {
    var feature: Int
    var kind: Int
    var threshold: Float
    var category: UInt32
    var split: Int
  }

  /// Per tree, its leaves in left-to-right order; per split, its tree and the mask of leaves left
  /// after it is false.
  struct LeafLayout {
    var treeLeafStart: [Int32] = []
    var leafOrder: [Int32] = []
    var splitTree: [UInt32]
    var splitMask: [UInt64]
    /// The most leaves of any tree.
    var widest = 0

    init(roots: [Int32], left: [Int32], right: [Int32], splitCount: Int) {
      splitTree = [UInt32](repeating: 0, count: splitCount)
      splitMask = [UInt64](repeating: ~0, count: splitCount)
      for (tree, root) in roots.enumerated() {
        treeLeafStart.append(Int32(leafOrder.count))
        var position = 0
        let (_, count) = visit(root, tree: tree, left: left, right: right, position: &position)
        widest = max(widest, count)
      }
    }

    /// In-order walk; returns the positions (first, end) of the subtree's leaves.
    private mutating func visit(
      _ node: Int32, tree: Int, left: [Int32], right: [Int32], position: inout Int
    ) -> (Int, Int) {
      if node < 0 {
        leafOrder.append(~node)
        position += 1
        return (position - 1, position)
      }
      let n = Int(node)
      splitTree[n] = UInt32(tree)
      let (first, middle) = visit(left[n], tree: tree, left: left, right: right, position: &position)
      let (_, end) = visit(right[n], tree: tree, left: left, right: right, position: &position)
      if middle <= 64 {
        for p in first..<middle { splitMask[n] &= ~(UInt64(1) << UInt64(p)) }
      }
      return (first, end)
    }
  }

  /// The tests of every split, unsorted, and whether this form can express them all.
  private static func entries(
    convention: TreeEnsemble.Convention, features: [Int32], thresholds splitThresholds: [Double], flags: [UInt8],
    bitsetStart: [Int32], bitsetLength: [Int32], bitsets: [UInt32]
  ) -> (entries: [Entry], quick: Bool) {
    var quick = true
    var entries: [Entry] = []
    for i in 0..<features.count {
      let flag = flags[i]
      let feature = Int(features[i])
      if flag & TreeEnsemble.categorical != 0 {
        var set: UInt32 = 0
        let start = Int(bitsetStart[i])
        for word in 0..<Int(bitsetLength[i]) where bitsets[start + word] != 0 {
          if word == 0 { set = bitsets[start] } else { quick = false }
        }
        entries.append(Entry(feature: feature, kind: 2, threshold: 0, category: set, split: i))
        continue
      }
      let threshold: Float
      let missingGoesLeft: Bool
      switch convention {
      case .lightGBM:
        let t = splitThresholds[i]
        var f = Float(t)
        if Double(f) > t { f = f.nextDown }
        threshold = f
        let missing = flag & (3 << 2)
        if missing == TreeEnsemble.missingNaN {
          missingGoesLeft = flag & TreeEnsemble.defaultLeft != 0
        } else if missing == TreeEnsemble.missingZero {
          quick = false
          missingGoesLeft = false
        } else {
          missingGoesLeft = 0 <= t
        }
      case .xgboost:
        threshold = Float(splitThresholds[i]).nextDown
        missingGoesLeft = flag & TreeEnsemble.defaultLeft != 0
      }
      entries.append(Entry(feature: feature, kind: 0, threshold: threshold, category: 0, split: i))
      if !missingGoesLeft {
        entries.append(Entry(feature: feature, kind: 1, threshold: threshold, category: 0, split: i))
      }
    }
    return (entries, quick)
  }

  /// The sorted entries as the kernel's parallel arrays, with one run per kind and feature.
  struct SplitRuns {
    var byKind: [[Run]] = [[], [], []]
    var thresholds: [Float] = [], categories: [UInt32] = [], trees: [UInt32] = [], masks: [UInt64] = []

    init(_ entries: [Entry], layout: LeafLayout) {
      for (index, entry) in entries.enumerated() {
        if let last = byKind[entry.kind].last, last.feature == entry.feature, last.end == index {
          byKind[entry.kind][byKind[entry.kind].count - 1].end = index + 1
        } else {
          byKind[entry.kind].append(Run(feature: entry.feature, start: index, end: index + 1))
        }
        thresholds.append(entry.threshold)
        categories.append(entry.category)
        trees.append(layout.splitTree[entry.split])
        masks.append(layout.splitMask[entry.split])
      }
    }
  }

  /// Adds each row's leaf outputs, in tree order, to `sums` (Double for LightGBM, Float for XGBoost).
  func accumulate<Sum: BinaryFloatingPoint>(
    rows: UnsafePointer<Float>, count: Int, width: Int, into sums: UnsafeMutablePointer<Sum>
  ) {
    if narrow {
      accumulate(NarrowLanes.self, rows: rows, count: count, width: width, into: sums)
    } else {
      accumulate(WideLanes.self, rows: rows, count: count, width: width, into: sums)
    }
  }

  /// The kernel, for one width of leaf bitvector.
  private func accumulate<Lanes: QuickScorerLanes, Sum: BinaryFloatingPoint>(
    _: Lanes.Type, rows: UnsafePointer<Float>, count: Int, width: Int, into sums: UnsafeMutablePointer<Sum>
  ) {
    withUnsafeTemporaryAllocation(of: Lanes.Vector.self, capacity: max(1, treeCount)) { bitvectors in
      thresholds.withUnsafeBufferPointer { thresholds in
        categories.withUnsafeBufferPointer { categories in
          trees.withUnsafeBufferPointer { trees in
            masks.withUnsafeBufferPointer { masks in
              var group = 0
              while group < count {
                // Lanes past the last row repeat it; their results are dropped.
                let last = count - 1
                let lanes = (
                  rows + min(group, last) * width, rows + min(group + 1, last) * width,
                  rows + min(group + 2, last) * width,
                  rows + min(group + 3, last) * width, rows + min(group + 4, last) * width,
                  rows + min(group + 5, last) * width,
                  rows + min(group + 6, last) * width, rows + min(group + 7, last) * width
                )
                for tree in 0..<treeCount { bitvectors[tree] = Lanes.allOnes }
                for run in numericRuns {
                  let x = Lanes.present(Lanes.values(lanes, run.feature))
                  let largest = Lanes.largest(x)
                  var i = run.start
                  // Splits at or above every lane's value are true for all of them: stop there.
                  while i < run.end && thresholds[i] < largest {
                    Lanes.clear(&bitvectors[Int(trees[i])], masks[i], where: x, above: thresholds[i])
                    i += 1
                  }
                }
                for run in missingRuns {
                  let missing = Lanes.missing(Lanes.values(lanes, run.feature))
                  guard Lanes.any(missing) else { continue }
                  for i in run.start..<run.end { Lanes.clear(&bitvectors[Int(trees[i])], masks[i], where: missing) }
                }
                for run in categoricalRuns {
                  let oneHot = Lanes.oneHot(lanes, run.feature)
                  for i in run.start..<run.end {
                    Lanes.clear(&bitvectors[Int(trees[i])], masks[i], unlessAny: oneHot, in: categories[i])
                  }
                }
                for lane in 0..<min(8, count - group) {
                  var sum = sums[group + lane]
                  for tree in 0..<treeCount {
                    let position = Lanes.firstLeaf(bitvectors[tree], lane)
                    sum += Sum(leaves[Int(leafOrder[Int(treeLeafStart[tree]) + position])])
                  }
                  sums[group + lane] = sum
                }
                group += 8
              }
            }
          }
        }
      }
    }
  }
}

/// Eight row pointers.
typealias RowLanes = (
  UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>,
  UnsafePointer<Float>,
  UnsafePointer<Float>, UnsafePointer<Float>
)

/// The lane operations of the kernel for one bitvector width, written on concrete SIMD types so
/// that they compile to vector instructions (comparison masks used as bit patterns directly).
protocol QuickScorerLanes {
  associatedtype Vector
  associatedtype Values
  static var allOnes: Vector { get }
  static func values(_ rows: RowLanes, _ feature: Int) -> Values
  /// The values with missing ones replaced by −∞ (never above a threshold).
  static func present(_ x: Values) -> Values
  static func largest(_ x: Values) -> Float
  static func missing(_ x: Values) -> Vector
  static func any(_ lanes: Vector) -> Bool
  /// Clears the left subtree for lanes whose value is above the threshold.
  static func clear(_ v: inout Vector, _ mask: UInt64, where x: Values, above threshold: Float)
  /// Clears the left subtree for the selected lanes.
  static func clear(_ v: inout Vector, _ mask: UInt64, where lanes: Vector)
  /// One bit per lane at its category (0 when missing or out of range).
  static func oneHot(_ rows: RowLanes, _ feature: Int) -> Vector
  /// Clears the left subtree for lanes whose category is not in `set`.
  static func clear(_ v: inout Vector, _ mask: UInt64, unlessAny oneHot: Vector, in set: UInt32)
  static func firstLeaf(_ v: Vector, _ lane: Int) -> Int
}

extension QuickScorerLanes {
  @inline(__always)
  static func category(_ value: Float) -> Int { value >= 0 && value < 32 ? Int(value) : -1 }
}

/// Trees of up to 32 leaves: 32-bit bitvectors, float comparisons.
enum NarrowLanes: QuickScorerLanes {
  static let allOnes = SIMD8<Int32>(repeating: -1)
  @inline(__always)
  static func values(_ r: RowLanes, _ f: Int) -> SIMD8<Float> {
    SIMD8(r.0[f], r.1[f], r.2[f], r.3[f], r.4[f], r.5[f], r.6[f], r.7[f])
  }
  @inline(__always)
  static func present(_ x: SIMD8<Float>) -> SIMD8<Float> {
    var y = x
    for lane in 0..<8 where y[lane].isNaN { y[lane] = -.infinity }
    return y
  }
  @inline(__always)
  static func largest(_ x: SIMD8<Float>) -> Float { x.max() }
  @inline(__always)
  static func missing(_ x: SIMD8<Float>) -> SIMD8<Int32> {
    let m: SIMDMask<SIMD8<Int32>> = x .!= x
    return m._storage
  }
  @inline(__always)
  static func any(_ lanes: SIMD8<Int32>) -> Bool { lanes != SIMD8(repeating: 0) }
  @inline(__always)
  static func clear(_ v: inout SIMD8<Int32>, _ mask: UInt64, where x: SIMD8<Float>, above t: Float) {
    v &= SIMD8<Int32>(repeating: Int32(truncatingIfNeeded: mask)) | keep(x, t)
  }
  /// All ones in the lanes not above `t` (the comparison types spelled out, so that it compiles to
  /// one vector compare rather than a lane loop).
  @inline(__always)
  static func keep(_ x: SIMD8<Float>, _ t: Float) -> SIMD8<Int32> {
    let m: SIMDMask<SIMD8<Int32>> = x .<= SIMD8<Float>(repeating: t)
    return m._storage
  }
  @inline(__always)
  static func inSet(_ oneHot: SIMD8<Int32>, _ set: UInt32) -> SIMD8<Int32> {
    let m: SIMDMask<SIMD8<Int32>> =
      (oneHot & SIMD8<Int32>(repeating: Int32(bitPattern: set))) .!= SIMD8<Int32>(repeating: 0)
    return m._storage
  }
  @inline(__always)
  static func clear(_ v: inout SIMD8<Int32>, _ mask: UInt64, where lanes: SIMD8<Int32>) {
    v &= SIMD8<Int32>(repeating: Int32(truncatingIfNeeded: mask)) | ~lanes
  }
  @inline(__always)
  static func oneHot(_ r: RowLanes, _ f: Int) -> SIMD8<Int32> {
    var bits = SIMD8<Int32>(repeating: 0)
    let c = SIMD8<Int32>(
      Int32(category(r.0[f])), Int32(category(r.1[f])), Int32(category(r.2[f])), Int32(category(r.3[f])),
      Int32(category(r.4[f])),
      Int32(category(r.5[f])), Int32(category(r.6[f])), Int32(category(r.7[f])))
    for lane in 0..<8 where c[lane] >= 0 { bits[lane] = Int32(bitPattern: UInt32(1) << UInt32(c[lane])) }
    return bits
  }
  @inline(__always)
  static func clear(_ v: inout SIMD8<Int32>, _ mask: UInt64, unlessAny oneHot: SIMD8<Int32>, in set: UInt32) {
    v &= SIMD8<Int32>(repeating: Int32(truncatingIfNeeded: mask)) | inSet(oneHot, set)
  }
  @inline(__always)
  static func firstLeaf(_ v: SIMD8<Int32>, _ lane: Int) -> Int { v[lane].trailingZeroBitCount }
}

/// Trees of up to 64 leaves: each 64-bit bitvector as two 32-bit halves, so that the same float
/// comparison mask applies to both.
enum WideLanes: QuickScorerLanes {
  struct Halves {
    var low: SIMD8<Int32>
    var high: SIMD8<Int32>
  }
  static let allOnes = Halves(low: NarrowLanes.allOnes, high: NarrowLanes.allOnes)
  @inline(__always)
  static func values(_ r: RowLanes, _ f: Int) -> SIMD8<Float> { NarrowLanes.values(r, f) }
  @inline(__always)
  static func present(_ x: SIMD8<Float>) -> SIMD8<Float> { NarrowLanes.present(x) }
  @inline(__always)
  static func largest(_ x: SIMD8<Float>) -> Float { NarrowLanes.largest(x) }
  @inline(__always)
  static func missing(_ x: SIMD8<Float>) -> Halves { let m = NarrowLanes.missing(x); return Halves(low: m, high: m) }
  @inline(__always)
  static func any(_ lanes: Halves) -> Bool { NarrowLanes.any(lanes.low) }
  @inline(__always)
  static func clear(_ v: inout Halves, _ mask: UInt64, where x: SIMD8<Float>, above t: Float) {
    let keep = NarrowLanes.keep(x, t)
    v.low &= SIMD8<Int32>(repeating: Int32(truncatingIfNeeded: mask)) | keep
    v.high &= SIMD8<Int32>(repeating: Int32(truncatingIfNeeded: mask >> 32)) | keep
  }
  @inline(__always)
  static func clear(_ v: inout Halves, _ mask: UInt64, where lanes: Halves) {
    v.low &= SIMD8<Int32>(repeating: Int32(truncatingIfNeeded: mask)) | ~lanes.low
    v.high &= SIMD8<Int32>(repeating: Int32(truncatingIfNeeded: mask >> 32)) | ~lanes.low
  }
  @inline(__always)
  static func oneHot(_ r: RowLanes, _ f: Int) -> Halves {
    let h = NarrowLanes.oneHot(r, f); return Halves(low: h, high: h)
  }
  @inline(__always)
  static func clear(_ v: inout Halves, _ mask: UInt64, unlessAny oneHot: Halves, in set: UInt32) {
    let keep = NarrowLanes.inSet(oneHot.low, set)
    v.low &= SIMD8<Int32>(repeating: Int32(truncatingIfNeeded: mask)) | keep
    v.high &= SIMD8<Int32>(repeating: Int32(truncatingIfNeeded: mask >> 32)) | keep
  }
  @inline(__always)
  static func firstLeaf(_ v: Halves, _ lane: Int) -> Int {
    v.low[lane] != 0 ? v.low[lane].trailingZeroBitCount : 32 + v.high[lane].trailingZeroBitCount
  }
}

extension TreeEnsemble {
  /// Raw scores of `count` rows laid out `width` apart, the same bit for bit as ``rawScore(_:)``.
  public func rawScores(rows: UnsafePointer<Float>, count: Int, width: Int, into out: UnsafeMutablePointer<Double>) {
    guard count > 0 else { return }
    guard packed.isQuick else {
      for r in 0..<count { out[r] = rawScore(UnsafeBufferPointer(start: rows + r * width, count: width)) }
      return
    }
    switch convention {
    case .lightGBM:
      for r in 0..<count { out[r] = 0 }
      packed.accumulate(rows: rows, count: count, width: width, into: out)
    case .xgboost:
      // XGBoost accumulates in Float from the base margin.
      withUnsafeTemporaryAllocation(of: Float.self, capacity: count) { sums in
        for r in 0..<count { sums[r] = Float(baseMargin) }
        packed.accumulate(rows: rows, count: count, width: width, into: sums.baseAddress!)
        for r in 0..<count { out[r] = Double(sums[r]) }
      }
    }
  }
}

extension TreeEnsemble {
  /// The leaf-bitvector width the batch scorer uses (32 or 64), or nil when the model needs the
  /// reference walk (LightGBM "zero" missing type, categories ≥ 32, trees of more than 64 leaves).
  public var quickScorerWidth: Int? { packed.isQuick ? (packed.narrow ? 32 : 64) : nil }
}
