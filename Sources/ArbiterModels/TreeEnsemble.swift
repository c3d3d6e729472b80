import ArbiterCore

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// A gradient-boosted tree ensemble compiled into flat arrays (no per-node objects), with feature
/// names resolved to the schema's customer-vector indices at load.
///
/// Two summation conventions, so that scores match the library that trained the model exactly:
/// LightGBM sums leaf outputs in `Double`, in tree order, from 0, splitting `x <= threshold`;
/// XGBoost sums in `Float` from the base margin, splitting `x < threshold`.
public struct TreeEnsemble: Sendable {
  /// Whose split and probability conventions the trees follow.
  public enum Convention: Sendable { case lightGBM, xgboost }

  /// Node flags.
  static let categorical: UInt8 = 1
  static let defaultLeft: UInt8 = 2
  /// LightGBM missing types in bits 2–3: 0 none, 1 zero, 2 NaN. XGBoost nodes use `missingNaN`.
  static let missingZero: UInt8 = 1 << 2
  static let missingNaN: UInt8 = 2 << 2

  /// The library the ensemble came from, whose conventions it scores by.
  public let convention: Convention
  /// Log-odds added before the trees (XGBoost's base margin; 0 for LightGBM, whose first tree holds it).
  public let baseMargin: Double
  /// LightGBM's `sigmoid` parameter of the binary objective: the probability is
  /// `1 / (1 + exp(-sigmoid * score))`. 1 for XGBoost, whose transform has no such parameter.
  public let sigmoid: Double
  /// Root of each tree: a node index, or `~leaf` for a tree that is one leaf.
  let roots: [Int32]
  let features: [Int32]
  let thresholds: [Double]
  let thresholdsFloat: [Float]
  /// Children: a node index, or `~leaf`.
  let left: [Int32]
  let right: [Int32]
  let flags: [UInt8]
  /// For categorical nodes: where the node's bitset starts in `bitsets` and how many words it has.
  let bitsetStart: [Int32]
  let bitsetLength: [Int32]
  let bitsets: [UInt32]
  let leaves: [Double]
  /// Training cover of each split node and leaf (LightGBM data counts, XGBoost hessian sums),
  /// for exact contributions.
  let nodeCovers: [Double]
  let leafCovers: [Double]
  /// Names of the features the model reads, in the model's own order.
  public let featureNames: [String]
  /// The same trees in the packed hot-path layout.
  let packed: QuickScorerForest

  /// How many trees.
  public var treeCount: Int { roots.count }
  /// How many nodes, splits and leaves, in all trees.
  public var nodeCount: Int { features.count }

  init(
    convention: Convention, baseMargin: Double, sigmoid: Double, roots: [Int32], features: [Int32],
    thresholds: [Double], left: [Int32], right: [Int32], flags: [UInt8], bitsetStart: [Int32], bitsetLength: [Int32],
    bitsets: [UInt32], leaves: [Double], nodeCovers: [Double], leafCovers: [Double], featureNames: [String]
  ) {
    self.nodeCovers = nodeCovers
    self.leafCovers = leafCovers
    self.convention = convention
    self.baseMargin = baseMargin
    self.sigmoid = sigmoid
    self.roots = roots
    self.features = features
    self.thresholds = thresholds
    self.thresholdsFloat = thresholds.map { Float($0) }
    self.left = left
    self.right = right
    self.flags = flags
    self.bitsetStart = bitsetStart
    self.bitsetLength = bitsetLength
    self.bitsets = bitsets
    self.leaves = leaves
    self.featureNames = featureNames
    self.packed = QuickScorerForest(
      convention: convention, roots: roots, features: features, thresholds: thresholds, left: left, right: right,
      flags: flags,
      bitsetStart: bitsetStart, bitsetLength: bitsetLength, bitsets: bitsets, leaves: leaves)
  }

  /// The raw score (log-odds) for one customer vector.
  @inlinable
  public func rawScore(_ x: UnsafeBufferPointer<Float>) -> Double {
    switch convention {
    case .lightGBM: return lightGBMScore(x)
    case .xgboost: return Double(xgboostScore(x))
    }
  }

  /// The probability, bit for bit as the library that trained the model computes it.
  @inlinable
  public func probability(_ x: UnsafeBufferPointer<Float>) -> Double { probability(rawScore: rawScore(x)) }

  /// The probability for a raw score of ``rawScore(_:)``, bit for bit as the library computes it
  /// (not Arbiter's ``sigmoid(_:)``, whose form differs in the last bits for negative scores).
  @inlinable
  public func probability(rawScore z: Double) -> Double {
    switch convention {
    case .lightGBM: return Self.lightGBMSigmoid(z, sigmoid: sigmoid)
    case .xgboost: return Double(Self.xgboostSigmoid(Float(z)))
    }
  }

  /// LightGBM's binary objective (`BinaryLogloss::ConvertOutput`): `1.0 / (1.0 + exp(-sigmoid * z))`
  /// in double for every z (0 where `exp` overflows; never NaN for a number). With the default
  /// sigmoid parameter 1 this is `1.0 / (1.0 + exp(-z))` bit for bit (`-1 * z` is `-z`).
  @inlinable
  public static func lightGBMSigmoid(_ z: Double, sigmoid: Double = 1) -> Double { 1.0 / (1.0 + exp(-sigmoid * z)) }

  /// XGBoost's `binary:logistic` transform, `common::Sigmoid(float)` of src/common/math.h, in
  /// float32: `1.0f / (expf(min(-x, 88.7f)) + 1.0f + 1e-16f)`. The clamp keeps `expf` finite, so
  /// margins below -88.7 give 3.0e-39 rather than 0; the epsilon never changes a sum of at least 1.
  @inlinable
  public static func xgboostSigmoid(_ margin: Float) -> Float {
    let epsilon: Float = 1e-16
    let x = min(-margin, 88.7 as Float)
    return 1 / (expf(x) + 1 + epsilon)
  }

  @usableFromInline
  func lightGBMScore(_ x: UnsafeBufferPointer<Float>) -> Double {
    var sum = 0.0
    for root in roots {
      var node = Int(root)
      while node >= 0 {
        var value = Double(x[Int(features[node])])
        let flag = flags[node]
        if flag & Self.categorical != 0 {
          // NaN and negative categories go right; otherwise left when the category is in the set.
          let goLeft: Bool
          if value.isNaN || value < 0 || value >= 2_147_483_648 {
            goLeft = false
          } else {
            let category = Int(value)
            let word = category >> 5
            goLeft =
              word < Int(bitsetLength[node])
              && (bitsets[Int(bitsetStart[node]) + word] >> UInt32(category & 31)) & 1 == 1
          }
          node = Int(goLeft ? left[node] : right[node])
          continue
        }
        let missing = flag & (3 << 2)
        if value.isNaN && missing != Self.missingNaN { value = 0 }
        if (missing == Self.missingZero && value >= -1e-35 && value <= 1e-35)
          || (missing == Self.missingNaN && value.isNaN)
        {
          node = Int(flag & Self.defaultLeft != 0 ? left[node] : right[node])
        } else {
          node = Int(value <= thresholds[node] ? left[node] : right[node])
        }
      }
      sum += leaves[~node]
    }
    return sum
  }

  @usableFromInline
  func xgboostScore(_ x: UnsafeBufferPointer<Float>) -> Float {
    var sum = Float(baseMargin)
    for root in roots {
      var node = Int(root)
      while node >= 0 {
        let value = x[Int(features[node])]
        if value.isNaN {
          node = Int(flags[node] & Self.defaultLeft != 0 ? left[node] : right[node])
        } else {
          node = Int(value < thresholdsFloat[node] ? left[node] : right[node])
        }
      }
      sum += Float(leaves[~node])
    }
    return sum
  }
}

/// Builds a ``TreeEnsemble`` node by node, checking every reference.
struct TreeEnsembleBuilder {
  var roots: [Int32] = []
  var features: [Int32] = []
  var thresholds: [Double] = []
  var left: [Int32] = []
  var right: [Int32] = []
  var flags: [UInt8] = []
  var bitsetStart: [Int32] = []
  var bitsetLength: [Int32] = []
  var bitsets: [UInt32] = []
  var leaves: [Double] = []
  var nodeCovers: [Double] = []
  var leafCovers: [Double] = []
  /// Whether a numeric split may have threshold +inf (LightGBM's `x <= inf`; XGBoost never writes one).
  var acceptsInfiniteThreshold = false
  /// The most splits on a path from a tree's root to a leaf. Deeper trees are refused: the
  /// recursive passes over a tree (QuickScorer's leaf layout, TreeSHAP, whose path buffer grows
  /// with the square of the depth) would exhaust the stack or memory on a hand-made chain.
  static let maxDepth = 512

  /// Adds one tree given in its own local numbering (children `>= 0` nodes, `< 0` as `~leaf`).
  mutating func addTree(
    what: String, features f: [Int], thresholds t: [Double], left l: [Int], right r: [Int], flags fl: [UInt8],
    bitsets b: [(start: Int, length: Int)?], leaves leafValues: [Double], nodeCovers nc: [Double],
    leafCovers lc: [Double]
  ) throws(ArbiterError) {
    guard nc.count == f.count, lc.count == leafValues.count else {
      throw ArbiterError(
        .dataCorrupted,
        "\(what): \(nc.count) node counts for \(f.count) splits, \(lc.count) leaf counts for \(leafValues.count) leaves"
      )
    }
    // Covers weigh TreeSHAP's paths: a negative or non-finite one would give NaN contributions.
    for (i, cover) in nc.enumerated() where !(cover >= 0 && cover.isFinite) {
      throw ArbiterError(.dataCorrupted, "\(what): node \(i) has cover \(cover), which is negative or not finite")
    }
    for (j, cover) in lc.enumerated() where !(cover >= 0 && cover.isFinite) {
      throw ArbiterError(.dataCorrupted, "\(what): leaf \(j) has cover \(cover), which is negative or not finite")
    }
    nodeCovers.append(contentsOf: nc)
    leafCovers.append(contentsOf: lc)
    let nodeBase = features.count, leafBase = leaves.count
    let n = f.count
    guard t.count == n, l.count == n, r.count == n, fl.count == n, b.count == n else {
      throw ArbiterError(.dataCorrupted, "\(what): node arrays have different lengths")
    }
    guard !leafValues.isEmpty else { throw ArbiterError(.dataCorrupted, "\(what): no leaves") }
    guard n == 0 || leafValues.count == n + 1 else {
      throw ArbiterError(.dataCorrupted, "\(what): \(n) splits but \(leafValues.count) leaves (expected \(n + 1))")
    }
    func child(_ c: Int) throws(ArbiterError) -> Int32 {
      if c >= 0 {
        guard c < n else { throw ArbiterError(.dataCorrupted, "\(what): child node \(c) does not exist") }
        return Int32(nodeBase + c)
      }
      guard ~c < leafValues.count else {
        throw ArbiterError(.dataCorrupted, "\(what): child leaf \(~c) does not exist")
      }
      return Int32(~(leafBase + ~c))
    }
    for i in 0..<n {
      // LightGBM writes +inf for a split of "missing against everything else" (missing type NaN):
      // `x <= inf` sends every present value left. NaN and -inf are never valid.
      let unbounded = t[i] == .infinity && acceptsInfiniteThreshold
      guard t[i].isFinite || unbounded || fl[i] & TreeEnsemble.categorical != 0 else {
        throw ArbiterError(.dataCorrupted, "\(what): node \(i) has a non-finite threshold (\(t[i]))")
      }
      features.append(Int32(f[i]))
      thresholds.append(t[i])
      left.append(try child(l[i]))
      right.append(try child(r[i]))
      flags.append(fl[i])
      bitsetStart.append(Int32(b[i]?.start ?? 0))
      bitsetLength.append(Int32(b[i]?.length ?? 0))
    }
    for value in leafValues {
      guard value.isFinite else { throw ArbiterError(.dataCorrupted, "\(what): a leaf value is not finite") }
      leaves.append(value)
    }
    if n > 0 {
      // Ids: splits 0..<n, leaf j as n + j (every child is in range, checked above).
      try Self.checkIsTree(
        what: what, count: n + leafValues.count, name: { $0 < n ? "node \($0)" : "leaf \($0 - n)" },
        children: { id in id < n ? (l[id] >= 0 ? l[id] : n + ~l[id], r[id] >= 0 ? r[id] : n + ~r[id]) : nil })
    }
    roots.append(n == 0 ? Int32(~leafBase) : Int32(nodeBase))
  }

  /// Checks, without recursion, that the nodes `0..<count` reached from root 0 form one tree: no
  /// node reached twice (a cycle, or a node with two parents), every node reached, no path of
  /// more than ``maxDepth`` splits. `children` gives a split's two children (nil for a leaf), each
  /// in `0..<count`; `name` says a node in errors.
  static func checkIsTree(
    what: String, count: Int, name: (Int) -> String, children: (Int) -> (Int, Int)?
  ) throws(ArbiterError) {
    guard count > 0 else { return }  // no nodes: the builder refuses the tree (no leaves)
    var reached = [Bool](repeating: false, count: count)
    reached[0] = true
    var reachedCount = 1
    var stack = [(node: 0, depth: 0)]
    while let (node, depth) = stack.popLast() {
      guard let (l, r) = children(node) else { continue }
      guard depth < maxDepth else { throw ArbiterError(.dataCorrupted, "\(what): deeper than \(maxDepth) splits") }
      for child in [l, r] {
        guard !reached[child] else {
          throw ArbiterError(
            .dataCorrupted, "\(what): \(name(child)) is reached twice (a cycle, or a node with two parents)")
        }
        reached[child] = true
        reachedCount += 1
        stack.append((child, depth + 1))
      }
    }
    if reachedCount < count, let missed = reached.firstIndex(of: false) {
      throw ArbiterError(.dataCorrupted, "\(what): \(name(missed)) is not reached from the root")
    }
  }

  func build(
    _ convention: TreeEnsemble.Convention, baseMargin: Double, sigmoid: Double = 1, featureNames: [String]
  ) -> TreeEnsemble {
    TreeEnsemble(
      convention: convention, baseMargin: baseMargin, sigmoid: sigmoid, roots: roots, features: features,
      thresholds: thresholds, left: left, right: right, flags: flags, bitsetStart: bitsetStart,
      bitsetLength: bitsetLength, bitsets: bitsets, leaves: leaves, nodeCovers: nodeCovers, leafCovers: leafCovers,
      featureNames: featureNames)
  }
}

extension TreeEnsemble {
  /// How many split nodes scoring `x` visits (for reporting cost per node visit).
  public func nodeVisits(_ x: UnsafeBufferPointer<Float>) -> Int {
    var visits = 0
    for root in roots {
      var node = Int(root)
      while node >= 0 {
        visits += 1
        let value = x[Int(features[node])]
        let flag = flags[node]
        if flag & Self.categorical != 0 {
          // Not `Int(value)`, which traps on an infinite or huge value.
          node = Int(categoryIsLeft(value, node: node) ? left[node] : right[node])
        } else if value.isNaN {
          node = Int(flag & Self.defaultLeft != 0 ? left[node] : right[node])
        } else {
          let goLeft = convention == .lightGBM ? Double(value) <= thresholds[node] : value < thresholdsFloat[node]
          node = Int(goLeft ? left[node] : right[node])
        }
      }
    }
    return visits
  }
}

extension TreeEnsemble {
  /// Whether a categorical node sends `value` left (NaN, negative and huge categories go right).
  @inline(__always)
  func categoryIsLeft(_ value: Float, node: Int) -> Bool {
    guard !value.isNaN, value >= 0, value < 2_147_483_648 else { return false }
    let category = Int(value)
    let word = category >> 5
    return word < Int(bitsetLength[node]) && (bitsets[Int(bitsetStart[node]) + word] >> UInt32(category & 31)) & 1 == 1
  }
}
