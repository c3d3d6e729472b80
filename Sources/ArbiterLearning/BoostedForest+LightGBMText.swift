/// LightGBM's text model format, so that LightGBM itself (and Arbiter's ``LightGBMImporter``)
/// loads and scores the model: the header, one `Tree=` section per tree with LightGBM's arrays
/// (categorical splits as bitsets of categories), `tree_sizes` exact, the feature importances and
/// the settings in LightGBM's names.
extension BoostedForest {
  /// The model as LightGBM's `save_model` writes it.
  public func lightGBMText() -> String {
    let names = schema.customerFeatures.map(\.name)
    let sections = trees.enumerated().map { "Tree=\($0.offset)\n" + Self.treeText($0.element) + "\n" }
    var text = """
      tree
      version=v4
      num_class=1
      num_tree_per_iteration=1
      label_index=0
      max_feature_idx=\(names.count - 1)
      objective=binary sigmoid:1
      feature_names=\(names.joined(separator: " "))
      feature_infos=\(featureInfos.joined(separator: " "))
      tree_sizes=\(sections.map { String($0.utf8.count) }.joined(separator: " "))


      """
    for section in sections { text += section }
    text += "end of trees\n\nfeature_importances:\n"
    let splits = importance.splits
    for f in splits.indices.filter({ splits[$0] > 0 }).sorted(by: { splits[$0] > splits[$1] }) {
      text += "\(names[f])=\(splits[f])\n"
    }
    text += "\nparameters:\n"
    for (name, value) in lightGBMParameters { text += "[\(name): \(value)]\n" }
    text += "\nend of parameters\n\npandas_categorical:null\n"
    return text
  }

  /// LightGBM's `feature_infos`: `[min:max]` of a numeric feature, the categories of a
  /// categorical one, `none` for a feature no split can use.
  var featureInfos: [String] {
    bins.map { bins in
      if bins.isTrivial { return "none" }
      switch bins.kind {
      case .numeric: return "[\(Self.number(bins.minimum)):\(Self.number(bins.maximum))]"
      case .categorical: return bins.categories.map(String.init).joined(separator: ":")
      }
    }
  }

  /// The settings under LightGBM's names.
  var lightGBMParameters: [(String, String)] {
    let p = parameters
    return [
      ("boosting", "gbdt"), ("objective", "binary"), ("num_iterations", "\(p.rounds)"),
      ("learning_rate", Self.number(p.learningRate)), ("num_leaves", "\(p.leaves)"), ("max_depth", "\(p.maxDepth ?? -1)"),
      ("min_data_in_leaf", "\(p.minimumRowsPerLeaf)"), ("min_sum_hessian_in_leaf", Self.number(p.minimumHessianPerLeaf)),
      ("min_gain_to_split", Self.number(p.minimumGain)), ("lambda_l1", Self.number(p.l1)),
      ("lambda_l2", Self.number(p.l2)), ("feature_fraction", Self.number(p.featureFraction)),
      ("bagging_fraction", Self.number(p.rowFraction)), ("bagging_freq", "\(p.rowFractionEvery)"),
      ("max_bin", "\(p.maxBins)"), ("min_data_in_bin", "\(p.minimumRowsPerBin)"),
      ("max_cat_to_onehot", "\(p.oneHotCategoriesUpTo)"), ("max_cat_threshold", "\(p.maxCategoriesPerSplit)"),
      ("cat_smooth", Self.number(p.categorySmoothing)), ("cat_l2", Self.number(p.categoryL2)),
      ("min_data_per_group", "\(p.minimumRowsPerCategoryGroup)"), ("scale_pos_weight", Self.number(p.positiveWeight)),
      ("early_stopping_round", "\(p.earlyStoppingRounds ?? 0)"), ("seed", "\(p.seed)"),
    ]
  }

  /// A number as the shortest text that reads back to the same double (`inf` for infinity, as LightGBM writes it).
  static func number(_ value: Double) -> String {
    if value == .infinity { return "inf" }
    if value == -.infinity { return "-inf" }
    if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
    return "\(value)"
  }

  /// One tree's section, as LightGBM's `Tree::ToString` writes it.
  static func treeText(_ tree: LearnedTree) -> String {
    func line(_ name: String, _ values: [String]) -> String { "\(name)=\(values.joined(separator: " "))\n" }
    var catBoundaries = [0]
    var catThreshold: [UInt32] = []
    var thresholds: [String] = []
    var decisionTypes: [String] = []
    for node in tree.feature.indices {
      if tree.isCategorical(node) {
        let categories = tree.leftCategories[node]
        var words = [UInt32](repeating: 0, count: categories.max()! / 32 + 1)
        for category in categories { words[category / 32] |= 1 << UInt32(category % 32) }
        thresholds.append(String(catBoundaries.count - 1))
        catThreshold += words
        catBoundaries.append(catThreshold.count)
        decisionTypes.append(String(1 | (tree.missingIsNaN[node] ? 8 : 0)))
      } else {
        thresholds.append(number(tree.threshold[node]))
        decisionTypes.append(String((tree.defaultLeft[node] ? 2 : 0) | (tree.missingIsNaN[node] ? 8 : 0)))
      }
    }
    var text = "num_leaves=\(tree.numberOfLeaves)\nnum_cat=\(catBoundaries.count - 1)\n"
    text += line("split_feature", tree.feature.map(String.init))
    text += line("split_gain", tree.gain.map(number))
    text += line("threshold", thresholds)
    text += line("decision_type", decisionTypes)
    text += line("left_child", tree.left.map(String.init))
    text += line("right_child", tree.right.map(String.init))
    text += line("leaf_value", tree.leafValue.map(number))
    text += line("leaf_weight", tree.leafWeight.map(number))
    text += line("leaf_count", tree.leafCount.map(String.init))
    text += line("internal_value", tree.internalValue.map(number))
    text += line("internal_weight", tree.internalWeight.map(number))
    text += line("internal_count", tree.internalCount.map(String.init))
    if catBoundaries.count > 1 {
      text += line("cat_boundaries", catBoundaries.map(String.init))
      text += line("cat_threshold", catThreshold.map(String.init))
    }
    text += "is_linear=0\nshrinkage=1\n\n"
    return text
  }
}
