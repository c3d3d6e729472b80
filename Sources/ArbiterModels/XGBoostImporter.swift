import ArbiterCore
import Foundation

/// Reads an XGBoost JSON model (`binary:logistic`, gbtree, numerical splits) into a
/// ``TreeEnsemble``: splits `x < condition`, missing values follow `default_left`, the sum starts at
/// logit(base_score). Refuses, naming the problem: another objective or booster, categorical
/// splits, a feature the schema lacks, inconsistent tree arrays, or unreadable JSON.
public enum XGBoostImporter {
  struct Model: Decodable {
    struct Learner: Decodable {
      struct Param: Decodable { var base_score: String }
      struct Objective: Decodable { var name: String }
      struct Booster: Decodable {
        struct Inner: Decodable { var trees: [Tree] }
        var name: String
        var model: Inner
      }
      var feature_names: [String]?
      var learner_model_param: Param
      var objective: Objective
      var gradient_booster: Booster
    }
    struct Tree: Decodable {
      var left_children: [Int]
      var right_children: [Int]
      var split_indices: [Int]
      var split_conditions: [Double]
      var default_left: [Int]
      var split_type: [Int]?
      var sum_hessian: [Double]
    }
    var learner: Learner
  }

  /// Reads an XGBoost JSON model (binary:logistic) against `schema`; a bad file is refused naming `file`.
  public static func load(
    _ data: Data, schema: FeatureSchema, file: String = "model.json"
  ) throws(ArbiterError) -> TreeEnsemble {
    let model = try CanonicalJSON.decode(Model.self, from: data, file: file)
    let learner = model.learner
    guard learner.objective.name == "binary:logistic" else {
      throw ArbiterError(
        .failedPrecondition, "\(file): objective '\(learner.objective.name)'; only binary:logistic is supported")
    }
    guard learner.gradient_booster.name == "gbtree" else {
      throw ArbiterError(
        .failedPrecondition, "\(file): booster '\(learner.gradient_booster.name)'; only gbtree is supported")
    }
    guard let names = learner.feature_names, !names.isEmpty else {
      throw ArbiterError(.failedPrecondition, "\(file): the model has no feature names; train it with named features")
    }
    var indices: [Int] = []
    for name in names {
      guard let index = schema.customerIndex(of: name) else {
        throw ArbiterError(.failedPrecondition, "\(file): the model uses feature '\(name)', which the schema lacks")
      }
      indices.append(index)
    }
    let scoreText = learner.learner_model_param.base_score.trimmingCharacters(in: CharacterSet(charactersIn: "[] "))
    guard let baseScore = Double(scoreText), baseScore > 0, baseScore < 1 else {
      throw ArbiterError(
        .dataCorrupted, "\(file): base_score '\(learner.learner_model_param.base_score)' is not a probability")
    }
    let baseMargin = Double(-log(Float(1) / Float(baseScore) - 1))
    // A probability in double may be 0 or 1 in float32, whose logit is infinite.
    guard baseMargin.isFinite else {
      throw ArbiterError(
        .dataCorrupted, "\(file): base_score '\(learner.learner_model_param.base_score)' gives no finite base margin")
    }
    var builder = TreeEnsembleBuilder()
    for (t, tree) in learner.gradient_booster.model.trees.enumerated() {
      try addTree(tree, what: "\(file): tree \(t)", indices: indices, to: &builder)
    }
    guard !builder.roots.isEmpty else { throw ArbiterError(.dataCorrupted, "\(file): no trees") }
    return builder.build(.xgboost, baseMargin: baseMargin, featureNames: names)
  }

  /// Renumbers one tree (splits `0..<k`, leaves as `~j`), checks it, and adds it to `builder`.
  static func addTree(
    _ tree: Model.Tree, what: String, indices: [Int], to builder: inout TreeEnsembleBuilder
  ) throws(ArbiterError) {
    let n = tree.left_children.count
    guard tree.right_children.count == n, tree.split_indices.count == n, tree.split_conditions.count == n,
      tree.default_left.count == n, tree.sum_hessian.count == n
    else {
      throw ArbiterError(.dataCorrupted, "\(what): node arrays have different lengths")
    }
    if let types = tree.split_type, types.contains(where: { $0 != 0 }) {
      throw ArbiterError(.failedPrecondition, "\(what): categorical splits are not supported for XGBoost models")
    }
    // Renumber: splits nodes 0..<k, leaves as ~j.
    var nodeNumber = [Int](repeating: 0, count: n)
    var leafValues: [Double] = []
    var leafCovers: [Double] = []
    var splits: [Int] = []
    for i in 0..<n {
      if tree.left_children[i] == -1 {
        nodeNumber[i] = ~leafValues.count
        leafValues.append(tree.split_conditions[i])
        leafCovers.append(tree.sum_hessian[i])
      } else {
        nodeNumber[i] = splits.count
        splits.append(i)
      }
    }
    var features: [Int] = [], thresholds: [Double] = [], left: [Int] = [], right: [Int] = [], flags: [UInt8] = []
    for i in splits {
      let l = tree.left_children[i], r = tree.right_children[i]
      guard l > 0, l < n, r > 0, r < n else {
        throw ArbiterError(.dataCorrupted, "\(what): node \(i) has a child outside the tree")
      }
      guard tree.split_indices[i] >= 0 && tree.split_indices[i] < indices.count else {
        throw ArbiterError(
          .dataCorrupted,
          "\(what): node \(i) splits on feature \(tree.split_indices[i]), the model has \(indices.count)")
      }
      features.append(indices[tree.split_indices[i]])
      thresholds.append(tree.split_conditions[i])
      left.append(nodeNumber[l])
      right.append(nodeNumber[r])
      flags.append(tree.default_left[i] != 0 ? TreeEnsemble.defaultLeft : 0)
    }
    // In the file's own node numbers (every split's children are in range, checked above).
    try TreeEnsembleBuilder.checkIsTree(
      what: what, count: n, name: { "node \($0)" },
      children: { i in tree.left_children[i] == -1 ? nil : (tree.left_children[i], tree.right_children[i]) })
    try builder.addTree(
      what: what, features: features, thresholds: thresholds, left: left, right: right, flags: flags,
      bitsets: Array(repeating: nil, count: features.count), leaves: leafValues,
      nodeCovers: splits.map { tree.sum_hessian[$0] }, leafCovers: leafCovers)
  }
}
