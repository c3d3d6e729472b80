import ArbiterCore

/// Exact additive feature contributions for tree ensembles: TreeSHAP (Lundberg et al.,
/// "Consistent Individualized Feature Attribution for Tree Ensembles", Algorithm 2), with each
/// node's training cover as the data distribution, as LightGBM's and XGBoost's `pred_contrib`
/// compute them. Contributions plus the bias sum to the raw score.
extension TreeEnsemble {
  private struct PathElement {
    var feature = -1
    var zeroFraction = 0.0
    var oneFraction = 0.0
    var weight = 0.0
  }

  /// Adds each feature's contribution to `phi` (indexed like the customer vector) and returns the
  /// bias (the expected raw score).
  public func contributions(_ x: UnsafeBufferPointer<Float>, into phi: inout [Double]) -> Double {
    var bias = baseMargin
    var path = [PathElement](repeating: PathElement(), count: 1_024)
    for root in roots {
      let r = Int(root)
      if r < 0 {
        bias += leaves[~r]
        continue
      }
      bias += expectedValue(root: r)
      let depth = maxDepth(r)
      let needed = (depth + 2) * (depth + 3) / 2
      if path.count < needed { path = [PathElement](repeating: PathElement(), count: needed) }
      path.withUnsafeMutableBufferPointer { buffer in
        recurse(x, &phi, node: r, uniqueDepth: 0, parent: buffer.baseAddress!, zero: 1, one: 1, feature: -1)
      }
    }
    return bias
  }

  private func cover(_ node: Int) -> Double { node >= 0 ? nodeCovers[node] : leafCovers[~node] }

  private func expectedValue(root: Int) -> Double {
    var total = 0.0
    var stack = [root]
    while let node = stack.popLast() {
      if node < 0 {
        total += leaves[~node] * leafCovers[~node]
      } else {
        stack.append(Int(left[node])); stack.append(Int(right[node]))
      }
    }
    return total / nodeCovers[root]
  }

  private func maxDepth(_ node: Int) -> Int {
    node < 0 ? 0 : 1 + max(maxDepth(Int(left[node])), maxDepth(Int(right[node])))
  }

  /// The child a row goes to, by the model's own rules.
  private func child(_ node: Int, _ x: UnsafeBufferPointer<Float>) -> Int {
    let value = x[Int(features[node])]
    let flag = flags[node]
    if convention == .xgboost {
      if value.isNaN { return Int(flag & Self.defaultLeft != 0 ? left[node] : right[node]) }
      return Int(value < thresholdsFloat[node] ? left[node] : right[node])
    }
    if flag & Self.categorical != 0 { return Int(categoryIsLeft(value, node: node) ? left[node] : right[node]) }
    var v = Double(value)
    let missing = flag & (3 << 2)
    if v.isNaN && missing != Self.missingNaN { v = 0 }
    if (missing == Self.missingZero && v >= -1e-35 && v <= 1e-35) || (missing == Self.missingNaN && v.isNaN) {
      return Int(flag & Self.defaultLeft != 0 ? left[node] : right[node])
    }
    return Int(v <= thresholds[node] ? left[node] : right[node])
  }

  private func recurse(
    _ x: UnsafeBufferPointer<Float>, _ phi: inout [Double], node: Int, uniqueDepth depth: Int,
    parent: UnsafeMutablePointer<PathElement>, zero: Double, one: Double, feature: Int
  ) {
    var uniqueDepth = depth
    let path = parent + uniqueDepth
    if uniqueDepth > 0 { path.update(from: parent, count: uniqueDepth) }
    extend(path, uniqueDepth, zero, one, feature)
    if node < 0 {
      for i in 1...max(1, uniqueDepth) where i <= uniqueDepth {
        let w = unwoundSum(path, uniqueDepth, i)
        let element = path[i]
        phi[element.feature] += w * (element.oneFraction - element.zeroFraction) * leaves[~node]
      }
      return
    }
    let split = Int(features[node])
    let hot = child(node, x)
    let cold = hot == Int(left[node]) ? Int(right[node]) : Int(left[node])
    let w = cover(node)
    var incomingZero = 1.0, incomingOne = 1.0
    var index = 0
    while index <= uniqueDepth && path[index].feature != split { index += 1 }
    if index != uniqueDepth + 1 {
      incomingZero = path[index].zeroFraction
      incomingOne = path[index].oneFraction
      unwind(path, uniqueDepth, index)
      uniqueDepth -= 1
    }
    recurse(
      x, &phi, node: hot, uniqueDepth: uniqueDepth + 1, parent: path, zero: cover(hot) / w * incomingZero,
      one: incomingOne, feature: split)
    recurse(
      x, &phi, node: cold, uniqueDepth: uniqueDepth + 1, parent: path, zero: cover(cold) / w * incomingZero, one: 0,
      feature: split)
  }

  private func extend(
    _ path: UnsafeMutablePointer<PathElement>, _ depth: Int, _ zero: Double, _ one: Double, _ feature: Int
  ) {
    path[depth] = PathElement(feature: feature, zeroFraction: zero, oneFraction: one, weight: depth == 0 ? 1 : 0)
    var i = depth - 1
    while i >= 0 {
      path[i + 1].weight += one * path[i].weight * Double(i + 1) / Double(depth + 1)
      path[i].weight = zero * path[i].weight * Double(depth - i) / Double(depth + 1)
      i -= 1
    }
  }

  private func unwind(_ path: UnsafeMutablePointer<PathElement>, _ depth: Int, _ index: Int) {
    let one = path[index].oneFraction, zero = path[index].zeroFraction
    var next = path[depth].weight
    var i = depth - 1
    while i >= 0 {
      if one != 0 {
        let saved = path[i].weight
        path[i].weight = next * Double(depth + 1) / (Double(i + 1) * one)
        next = saved - path[i].weight * zero * Double(depth - i) / Double(depth + 1)
      } else {
        path[i].weight = path[i].weight * Double(depth + 1) / (zero * Double(depth - i))
      }
      i -= 1
    }
    for j in index..<depth {
      path[j].feature = path[j + 1].feature
      path[j].zeroFraction = path[j + 1].zeroFraction
      path[j].oneFraction = path[j + 1].oneFraction
    }
  }

  private func unwoundSum(_ path: UnsafeMutablePointer<PathElement>, _ depth: Int, _ index: Int) -> Double {
    let one = path[index].oneFraction, zero = path[index].zeroFraction
    var next = path[depth].weight
    var total = 0.0
    var i = depth - 1
    while i >= 0 {
      if one != 0 {
        let t = next * Double(depth + 1) / (Double(i + 1) * one)
        total += t
        next = path[i].weight - t * zero * (Double(depth - i) / Double(depth + 1))
      } else {
        total += (path[i].weight / zero) / (Double(depth - i) / Double(depth + 1))
      }
      i -= 1
    }
    return total
  }
}
