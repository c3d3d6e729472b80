import ArbiterCore
import ArbiterModels
import Foundation
import Testing

/// Corrupt LightGBM text and XGBoost JSON models are refused with `.dataCorrupted`, naming the
/// file and what is wrong, and never trap the process: one test per class of corruption, on small
/// hand-written models.
@Suite struct CorruptModelTests {
  let schema = FeatureSchema(
    customerFeatures: [
      FeatureDefinition(name: "balance", kind: .numeric, description: ""),
      FeatureDefinition(name: "segment", kind: .numeric, description: ""),
    ],
    contextFeatures: [])

  /// One tree: node 0 sends segments 1 and 2 (bitset 6) to node 1, others to leaf 0; node 1 splits
  /// `balance <= 0.5` into leaves 1 and 2.
  static let lightGBM = """
    tree
    version=v4
    num_class=1
    num_tree_per_iteration=1
    label_index=0
    max_feature_idx=1
    objective=binary sigmoid:1
    feature_names=balance segment
    feature_infos=[-1:1] 0:1:2

    Tree=0
    num_leaves=3
    num_cat=1
    split_feature=1 0
    split_gain=1 1
    threshold=0 0.5
    decision_type=1 2
    left_child=1 -2
    right_child=-1 -3
    leaf_value=0.1 -0.2 0.3
    leaf_weight=1 1 1
    leaf_count=10 20 30
    internal_value=0 0
    internal_weight=0 0
    internal_count=60 50
    cat_boundaries=0 1
    cat_threshold=6
    is_linear=0
    shrinkage=1


    end of trees
    """

  /// The same tree in XGBoost's JSON: node 0 `balance < 0.5` → node 1 or leaf 2; node 1
  /// `segment < 1` → leaves 3 and 4.
  static let xgboost = """
    {"learner": {"feature_names": ["balance", "segment"], "learner_model_param": {"base_score": "5E-1"},
     "objective": {"name": "binary:logistic"}, "gradient_booster": {"name": "gbtree", "model": {"trees": [
      {"left_children": [1, 3, -1, -1, -1], "right_children": [2, 4, -1, -1, -1],
       "split_indices": [0, 1, 0, 0, 0], "split_conditions": [0.5, 1, 0.3, -0.2, 0.1],
       "default_left": [1, 0, 0, 0, 0], "split_type": [0, 0, 0, 0, 0], "sum_hessian": [10, 6, 4, 3, 3]}]}}}}
    """

  func lightGBM(_ edits: [String: String]) throws(ArbiterError) -> TreeEnsemble {
    var text = Self.lightGBM
    for (line, replacement) in edits {
      precondition(text.contains("\n\(line)\n"), "no line \(line)")
      text = text.replacingOccurrences(of: "\n\(line)\n", with: "\n\(replacement)\n")
    }
    return try LightGBMImporter.load(text, schema: schema, file: "m.txt")
  }

  func xgboost(_ edits: [String: String]) throws(ArbiterError) -> TreeEnsemble {
    var text = Self.xgboost
    for (fragment, replacement) in edits {
      precondition(text.contains(fragment), "no \(fragment)")
      text = text.replacingOccurrences(of: fragment, with: replacement)
    }
    return try XGBoostImporter.load(Data(text.utf8), schema: schema, file: "m.json")
  }

  func expectCorrupt(_ message: String, _ load: () throws -> TreeEnsemble) {
    #expect(throws: ArbiterError(.dataCorrupted, message)) { try load() }
  }

  /// The hand-written models load and score as drawn.
  @Test func handWrittenModelsLoad() throws {
    let lgb = try lightGBM([:])
    let xgb = try xgboost([:])
    #expect([Float(0.2), 1].withUnsafeBufferPointer { lgb.rawScore($0) } == -0.2)
    #expect([Float(0.7), 2].withUnsafeBufferPointer { lgb.rawScore($0) } == 0.3)
    #expect([Float(0.7), 5].withUnsafeBufferPointer { lgb.rawScore($0) } == 0.1)
    #expect([Float(0.2), 0].withUnsafeBufferPointer { xgb.rawScore($0) } == Double(Float(-0.2)))
    #expect([Float(0.7), 0].withUnsafeBufferPointer { xgb.rawScore($0) } == Double(Float(0.3)))
  }

  /// A categorical node's threshold (its category set) that is NaN, infinite, huge, negative or
  /// past the sets the tree has.
  @Test func categoricalThresholdOutOfRange() {
    let cases = [
      "nan": "nan", "inf": "inf", "-inf": "-inf", "1e300": "1e+300", "9.3e18": "9.3e+18", "-1": "-1", "1": "1",
      "2147483648": "2147483648",
    ]
    for (bad, said) in cases {
      expectCorrupt("m.txt: tree 0: node 0 refers to category set \(said), which does not exist (the tree has 1)") {
        try lightGBM(["threshold=0 0.5": "threshold=\(bad) 0.5"])
      }
    }
  }

  /// Category-set boundaries that are negative, decreasing, past `cat_threshold`, or not one
  /// more than `num_cat`.
  @Test func categoryBoundariesOutOfRange() {
    for bad in ["-1 1", "1 0", "0 2", "0 9223372036854775807", "0", "0 1 1"] {
      expectCorrupt(
        "m.txt: tree 0: cat_boundaries '\(bad)' do not divide the 1 words of cat_threshold "
          + "into 1 sets"
      ) {
        try lightGBM(["cat_boundaries=0 1": "cat_boundaries=\(bad)"])
      }
    }
    expectCorrupt("m.txt: tree 0: num_cat '-1' is not a count") { try lightGBM(["num_cat=1": "num_cat=-1"]) }
  }

  /// Child references that make a cycle, or reach a node or leaf twice (LightGBM and XGBoost).
  @Test func childrenThatDoNotFormATree() {
    expectCorrupt("m.txt: tree 0: node 0 is reached twice (a cycle, or a node with two parents)") {
      try lightGBM(["left_child=1 -2": "left_child=1 0"])
    }
    expectCorrupt("m.txt: tree 0: node 1 is reached twice (a cycle, or a node with two parents)") {
      try lightGBM(["left_child=1 -2": "left_child=1 1"])
    }
    expectCorrupt("m.txt: tree 0: leaf 1 is reached twice (a cycle, or a node with two parents)") {
      try lightGBM(["right_child=-1 -3": "right_child=-1 -2"])
    }
    expectCorrupt("m.json: tree 0: node 1 is reached twice (a cycle, or a node with two parents)") {
      try xgboost(["\"right_children\": [2, 4,": "\"right_children\": [2, 1,"])
    }
    expectCorrupt("m.json: tree 0: node 1 is reached twice (a cycle, or a node with two parents)") {
      try xgboost(["\"right_children\": [2, 4,": "\"right_children\": [1, 4,"])
    }
  }

  /// A tree deeper than the recursive passes (QuickScorer's layout, TreeSHAP) can take, as a
  /// hand-edited chain of 100,000 splits.
  @Test func treeTooDeep() throws {
    let splits = 100_000
    let nodes = 0..<splits
    func line(_ key: String, _ values: (Int) -> String) -> String {
      key + "=" + nodes.map(values).joined(separator: " ")
    }
    var text = Self.lightGBM
    let tree = text.range(of: "Tree=0\n")!.upperBound..<text.range(of: "\n\n\nend of trees")!.lowerBound
    text.replaceSubrange(
      tree,
      with: [
        "num_leaves=\(splits + 1)", "num_cat=0", line("split_feature") { _ in "0" }, line("threshold") { "\($0)" },
        line("decision_type") { _ in "2" }, line("left_child") { "\(~$0)" },
        line("right_child") { $0 == splits - 1 ? "\(~splits)" : "\($0 + 1)" },
        "leaf_value=" + (0...splits).map { _ in "0.25" }.joined(separator: " "),
        "leaf_count=" + (0...splits).map { _ in "1" }.joined(separator: " "),
        line("internal_count") { "\(splits + 1 - $0)" }, "shrinkage=1",
      ].joined(separator: "\n"))
    expectCorrupt("m.txt: tree 0: deeper than 512 splits") {
      try LightGBMImporter.load(text, schema: schema, file: "m.txt")
    }
  }

  /// Data counts (LightGBM) and hessian sums (XGBoost), the covers of TreeSHAP, that are negative
  /// or not finite.
  @Test func negativeOrNonFiniteCovers() {
    expectCorrupt("m.txt: tree 0: leaf 1 has cover -20.0, which is negative or not finite") {
      try lightGBM(["leaf_count=10 20 30": "leaf_count=10 -20 30"])
    }
    expectCorrupt("m.txt: tree 0: node 1 has cover nan, which is negative or not finite") {
      try lightGBM(["internal_count=60 50": "internal_count=60 nan"])
    }
    expectCorrupt("m.json: tree 0: node 0 has cover -10.0, which is negative or not finite") {
      try xgboost(["\"sum_hessian\": [10,": "\"sum_hessian\": [-10,"])
    }
  }

  /// Node arrays of different lengths, and numbers that do not fit (LightGBM and XGBoost).
  @Test func mismatchedLengthsAndOverflow() {
    expectCorrupt("m.txt: tree 0: node arrays have different lengths") {
      try lightGBM(["right_child=-1 -3": "right_child=-1"])
    }
    expectCorrupt("m.txt: tree 0: decision_type too short") { try lightGBM(["decision_type=1 2": "decision_type=1"]) }
    expectCorrupt("m.txt: tree 0: split_feature has '99999999999999999999', not a number") {
      try lightGBM(["split_feature=1 0": "split_feature=1 99999999999999999999"])
    }
    expectCorrupt("m.txt: tree 0: 2 leaf values for 9223372036854775807 leaves") {
      try lightGBM(["num_leaves=3": "num_leaves=9223372036854775807", "leaf_value=0.1 -0.2 0.3": "leaf_value=0.1 -0.2"])
    }
    expectCorrupt("m.json: tree 0: node arrays have different lengths") {
      try xgboost(["\"default_left\": [1, 0, 0, 0, 0]": "\"default_left\": [1, 0, 0, 0]"])
    }
    expectCorrupt("m.json: tree 0: node 0 splits on feature 2, the model has 2") {
      try xgboost(["\"split_indices\": [0,": "\"split_indices\": [2,"])
    }
    // A tree with no nodes at all.
    let arrays = [
      "\"left_children\": [1, 3, -1, -1, -1]", "\"right_children\": [2, 4, -1, -1, -1]",
      "\"split_indices\": [0, 1, 0, 0, 0]", "\"split_conditions\": [0.5, 1, 0.3, -0.2, 0.1]",
      "\"default_left\": [1, 0, 0, 0, 0]", "\"split_type\": [0, 0, 0, 0, 0]", "\"sum_hessian\": [10, 6, 4, 3, 3]",
    ]
    let empty = Dictionary(uniqueKeysWithValues: arrays.map { ($0, String($0.prefix { $0 != "[" }) + "[]") })
    expectCorrupt("m.json: tree 0: no leaves") { try xgboost(empty) }
  }

  /// An XGBoost base score that is a probability in double but 0 or 1 in float32, which would make
  /// the base margin infinite.
  @Test func baseScoreWithoutAFiniteMargin() {
    for bad in ["1E-50", "0.99999999999"] {
      expectCorrupt("m.json: base_score '\(bad)' gives no finite base margin") {
        try xgboost(["\"base_score\": \"5E-1\"": "\"base_score\": \"\(bad)\""])
      }
    }
  }

  /// Counting node visits (model-bench) with an infinite or huge value in a categorical feature.
  @Test func nodeVisitsWithHugeCategory() throws {
    let model = try lightGBM([:])
    for value in [Float.infinity, 1e20, -1e20, .nan, 5] {
      #expect([Float(0), value].withUnsafeBufferPointer { model.nodeVisits($0) } == 1)
    }
    #expect([Float(0), 1].withUnsafeBufferPointer { model.nodeVisits($0) } == 2)
  }
}
