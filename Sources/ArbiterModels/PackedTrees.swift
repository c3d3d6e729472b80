import ArbiterCore

/// The hot-path form of a ``TreeEnsemble``: 16-byte nodes in one buffer, one float threshold
/// compared with `<=` for both libraries, and where a missing value goes decided per node at
/// load. Exact for float32 inputs:
///
/// - LightGBM `x <= t` (double) ⟺ `x <= f` where `f` is the largest float not above `t`.
/// - XGBoost `x < t` (float) ⟺ `x <= t.nextDown`.
/// - A missing value goes the node's default way (LightGBM "NaN" missing type, XGBoost), or is
///   scored as 0 (LightGBM types "none" and "zero", where 0 itself may be the default way).
final class PackedTrees: @unchecked Sendable {
  struct Node {
    var threshold: Float
    var feature: Int16
    /// bit 0 categorical, bit 1 missing goes left, bit 2 zero is missing (goes the default way),
    /// bit 3 default way is left.
    var flags: UInt8
    var unused: UInt8 = 0
    var left: Int32
    var right: Int32
  }

  static let categorical: UInt8 = 1, nanLeft: UInt8 = 2, zeroMissing: UInt8 = 4, defaultLeft: UInt8 = 8

  let nodes: UnsafeMutablePointer<Node>
  let nodeCount: Int
  let roots: [Int32]
  let leaves: UnsafeMutablePointer<Double>
  let leafCount: Int

  init(
    convention: TreeEnsemble.Convention, roots: [Int32], features: [Int32], thresholds: [Double], left: [Int32], right: [Int32],
    flags: [UInt8], leaves leafValues: [Double]
  ) {
    nodeCount = features.count
    nodes = .allocate(capacity: max(1, nodeCount))
    for i in 0..<nodeCount {
      let flag = flags[i]
      var packed: UInt8 = 0
      var threshold: Float
      switch convention {
      case .lightGBM:
        let t = thresholds[i]
        var f = Float(t)
        if Double(f) > t { f = f.nextDown }
        threshold = f
        let missing = flag & (3 << 2)
        let defaultLeft = flag & TreeEnsemble.defaultLeft != 0
        if missing == TreeEnsemble.missingNaN {
          if defaultLeft { packed |= Self.nanLeft }
        } else if missing == TreeEnsemble.missingZero {
          packed |= Self.zeroMissing
          if defaultLeft { packed |= Self.nanLeft | Self.defaultLeft }
        } else if 0 <= t {
          packed |= Self.nanLeft
        }
      case .xgboost:
        threshold = Float(thresholds[i]).nextDown
        if flag & TreeEnsemble.defaultLeft != 0 { packed |= Self.nanLeft }
      }
      if flag & TreeEnsemble.categorical != 0 { packed |= Self.categorical }
      nodes[i] = Node(threshold: threshold, feature: Int16(features[i]), flags: packed, left: left[i], right: right[i])
    }
    self.roots = roots
    leafCount = leafValues.count
    leaves = .allocate(capacity: max(1, leafCount))
    leaves.initialize(from: leafValues, count: leafCount)
  }

  deinit {
    nodes.deallocate()
    leaves.deallocate()
  }
}

extension TreeEnsemble {
  /// Raw scores of `count` rows laid out `width` apart, tree by tree (each tree's nodes stay in
  /// cache while every row goes through it). Same results, bit for bit, as ``rawScore(_:)``.
  public func rawScores(rows: UnsafePointer<Float>, count: Int, width: Int, into out: UnsafeMutablePointer<Double>) {
    let packed = self.packed
    let nodes = packed.nodes
    let leaves = packed.leaves
    if convention == .lightGBM {
      for r in 0..<count { out[r] = 0 }
    } else {
      // XGBoost accumulates in Float.
      withUnsafeTemporaryAllocation(of: Float.self, capacity: count) { sums in
        for r in 0..<count { sums[r] = Float(baseMargin) }
        for root in packed.roots {
          for r in 0..<count {
            let x = rows + r * width
            var node = Int(root)
            while node >= 0 {
              let n = nodes[node]
              let value = x[Int(n.feature)]
              let goLeft = value.isNaN ? n.flags & PackedTrees.nanLeft != 0 : value <= n.threshold
              node = Int(goLeft ? n.left : n.right)
            }
            sums[r] += Float(leaves[~node])
          }
        }
        for r in 0..<count { out[r] = Double(sums[r]) }
      }
      return
    }
    for root in packed.roots {
      for r in 0..<count {
        let x = rows + r * width
        var node = Int(root)
        while node >= 0 {
          let n = nodes[node]
          let value = x[Int(n.feature)]
          let goLeft: Bool
          if n.flags & PackedTrees.categorical != 0 {
            goLeft = categoryIsLeft(value, node: node)
          } else if value.isNaN {
            goLeft = n.flags & PackedTrees.nanLeft != 0
          } else if n.flags & PackedTrees.zeroMissing != 0 && value >= -1e-35 && value <= 1e-35 {
            goLeft = n.flags & PackedTrees.defaultLeft != 0
          } else {
            goLeft = value <= n.threshold
          }
          node = Int(goLeft ? n.left : n.right)
        }
        out[r] += leaves[~node]
      }
    }
  }

  @inline(__always)
  func categoryIsLeft(_ value: Float, node: Int) -> Bool {
    guard !value.isNaN, value >= 0, value < 2_147_483_648 else { return false }
    let category = Int(value)
    let word = category >> 5
    return word < Int(bitsetLength[node]) && (bitsets[Int(bitsetStart[node]) + word] >> UInt32(category & 31)) & 1 == 1
  }
}
