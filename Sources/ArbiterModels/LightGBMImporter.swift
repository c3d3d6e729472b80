import ArbiterCore

/// Reads LightGBM's text model format (binary objective) into a ``TreeEnsemble``, resolving the
/// model's feature names against a schema. Refuses, naming the problem: another objective, a
/// feature the schema lacks, inconsistent tree arrays, or a file cut short (no "end of trees").
///
/// In stages: the file is cut into its header and `Tree=` sections (``LightGBMSections``), the
/// objective is checked, the feature names resolved, and each tree read (``LightGBMTreeSection``) into a
/// ``TreeEnsembleBuilder``, which checks every reference.
public enum LightGBMImporter {
  /// Reads a LightGBM text model for `schema`; `file` names the model in errors.
  public static func load(
    _ text: String, schema: FeatureSchema, file: String = "model.txt"
  ) throws(ArbiterError) -> TreeEnsemble {
    let sections = try LightGBMSections(text, file: file)
    try checkObjective(sections.header, file: file)
    guard !sections.trees.isEmpty else { throw ArbiterError(.dataCorrupted, "\(file): no trees") }
    let names = sections.header["feature_names"]!.split(separator: " ").map(String.init)
    let indices = try resolve(names, schema: schema, file: file)
    var builder = TreeEnsembleBuilder()
    builder.acceptsInfiniteThreshold = true
    for (t, fields) in sections.trees.enumerated() {
      try LightGBMTreeSection(fields: fields, what: "\(file): tree \(t)").add(to: &builder, indices: indices)
    }
    return builder.build(.lightGBM, baseMargin: 0, featureNames: names)
  }

  /// Only binary models give a propensity.
  static func checkObjective(_ header: [String: String], file: String) throws(ArbiterError) {
    guard header["num_class"] == "1", header["objective"]?.hasPrefix("binary") == true else {
      throw ArbiterError(
        .failedPrecondition,
        "\(file): objective '\(header["objective"] ?? "?")' with \(header["num_class"] ?? "?") classes; "
          + "only binary models are supported")
    }
  }

  /// The schema's customer-vector index of each of the model's features.
  static func resolve(_ names: [String], schema: FeatureSchema, file: String) throws(ArbiterError) -> [Int] {
    var indices: [Int] = []
    for name in names {
      guard let index = schema.customerIndex(of: name) else {
        throw ArbiterError(.failedPrecondition, "\(file): the model uses feature '\(name)', which the schema lacks")
      }
      indices.append(index)
    }
    return indices
  }
}

/// A LightGBM text model cut into its `key=value` header and one dictionary per `Tree=` section,
/// up to the "end of trees" line (the parameters after it are not read).
struct LightGBMSections {
  var header: [String: String] = [:]
  var trees: [[String: String]] = []

  init(_ text: String, file: String) throws(ArbiterError) {
    var current: [String: String]?
    var ended = false
    for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
      let entry = raw.hasSuffix("\r") ? raw.dropLast() : raw
      if entry == "end of trees" { ended = true; break }
      if entry.hasPrefix("Tree=") {
        if let current { trees.append(current) }
        current = [:]
        continue
      }
      guard let equals = entry.firstIndex(of: "=") else { continue }
      let key = String(entry[..<equals]), value = String(entry[entry.index(after: equals)...])
      if current != nil { current![key] = value } else { header[key] = value }
    }
    if let current { trees.append(current) }
    guard header["version"] != nil, header["feature_names"] != nil else {
      throw ArbiterError(.dataCorrupted, "\(file): not a LightGBM text model (no version or feature_names)")
    }
    guard ended else {
      throw ArbiterError(.dataCorrupted, "\(file): truncated (no 'end of trees' line after \(trees.count) trees)")
    }
  }
}

/// One `Tree=` section, read into a ``TreeEnsembleBuilder``: its leaves, then (for a tree with
/// splits) the split arrays, each split's flags and category set.
struct LightGBMTreeSection {
  /// The section's `key=value` lines.
  let fields: [String: String]
  /// "file: tree t", for errors.
  let what: String

  /// The split arrays of a tree with more than one leaf, as the file has them.
  struct Splits {
    var internalCount: [Double]
    var leafCounts: [Double]
    var splitFeature: [Int]
    var threshold: [Double]
    var decision: [Int]
    var leftChild: [Int]
    var rightChild: [Int]
    var catBoundaries: [Int]
    var catThreshold: [UInt32]
  }

  /// Per split: its feature (a schema index), flags, and where its category set is in the builder's bitsets.
  struct Nodes {
    var features: [Int] = []
    var flags: [UInt8] = []
    var bitsets: [(start: Int, length: Int)?] = []
  }

  func add(to builder: inout TreeEnsembleBuilder, indices: [Int]) throws(ArbiterError) {
    guard let leavesText = fields["num_leaves"], let leafCount = Int(leavesText), leafCount >= 1 else {
      throw ArbiterError(.dataCorrupted, "\(what): no num_leaves")
    }
    let leafValues: [Double] = try numbers("leaf_value") { Double($0) }
    guard leafValues.count == leafCount else {
      throw ArbiterError(.dataCorrupted, "\(what): \(leafValues.count) leaf values for \(leafCount) leaves")
    }
    if leafCount == 1 {
      try builder.addTree(
        what: what, features: [], thresholds: [], left: [], right: [], flags: [], bitsets: [], leaves: leafValues,
        nodeCovers: [], leafCovers: [1])
      return
    }
    let splits = try readSplits()
    let bitsetBase = builder.bitsets.count
    builder.bitsets.append(contentsOf: splits.catThreshold)
    let nodes = try readNodes(splits, indices: indices, bitsetBase: bitsetBase)
    let thresholds = splits.threshold.count == nodes.features.count ? splits.threshold : []
    try builder.addTree(
      what: what, features: nodes.features, thresholds: thresholds, left: splits.leftChild,
      right: splits.rightChild, flags: nodes.flags, bitsets: nodes.bitsets, leaves: leafValues,
      nodeCovers: splits.internalCount, leafCovers: splits.leafCounts)
  }

  /// The numbers of one line, each parsed by `parse`.
  func numbers<T>(_ key: String, _ parse: (Substring) -> T?) throws(ArbiterError) -> [T] {
    guard let value = fields[key] else { throw ArbiterError(.dataCorrupted, "\(what): no \(key)") }
    var result: [T] = []
    for token in value.split(separator: " ") {
      guard let parsed = parse(token) else {
        throw ArbiterError(.dataCorrupted, "\(what): \(key) has '\(token)', not a number")
      }
      result.append(parsed)
    }
    return result
  }

  func readSplits() throws(ArbiterError) -> Splits {
    let internalCount: [Double] = try numbers("internal_count") { Double($0) }
    let leafCounts: [Double] = try numbers("leaf_count") { Double($0) }
    let splitFeature: [Int] = try numbers("split_feature") { Int($0) }
    let threshold: [Double] = try numbers("threshold") { Double($0) }
    let decision: [Int] = try numbers("decision_type") { Int($0) }
    let leftChild: [Int] = try numbers("left_child") { Int($0) }
    let rightChild: [Int] = try numbers("right_child") { Int($0) }
    let categorical = (Int(fields["num_cat"] ?? "0") ?? 0) > 0
    let catBoundaries: [Int] = categorical ? try numbers("cat_boundaries") { Int($0) } : []
    let catThreshold: [UInt32] = categorical ? try numbers("cat_threshold") { UInt32($0) } : []
    return Splits(
      internalCount: internalCount, leafCounts: leafCounts, splitFeature: splitFeature, threshold: threshold,
      decision: decision, leftChild: leftChild, rightChild: rightChild, catBoundaries: catBoundaries,
      catThreshold: catThreshold)
  }

  func readNodes(_ splits: Splits, indices: [Int], bitsetBase: Int) throws(ArbiterError) -> Nodes {
    var nodes = Nodes()
    for i in splits.splitFeature.indices {
      let feature = splits.splitFeature[i]
      guard feature >= 0 && feature < indices.count else {
        throw ArbiterError(
          .dataCorrupted, "\(what): node \(i) splits on feature \(feature), the model has \(indices.count)")
      }
      nodes.features.append(indices[feature])
      guard i < splits.decision.count else { throw ArbiterError(.dataCorrupted, "\(what): decision_type too short") }
      let type = splits.decision[i]
      nodes.flags.append(Self.flags(decisionType: type))
      if type & 1 != 0 {
        nodes.bitsets.append(try categorySet(node: i, splits, bitsetBase: bitsetBase))
      } else {
        nodes.bitsets.append(nil)
      }
    }
    return nodes
  }

  /// A split's node flags from LightGBM's `decision_type`: bit 0 categorical, bit 1 default left,
  /// bits 2–3 the missing type.
  static func flags(decisionType type: Int) -> UInt8 {
    var flag = UInt8(0)
    if type & 1 != 0 { flag |= TreeEnsemble.categorical }
    if type & 2 != 0 { flag |= TreeEnsemble.defaultLeft }
    flag |= UInt8(((type >> 2) & 3) << 2)
    return flag
  }

  /// Where a categorical split's set (its threshold is the set's index) is in the builder's bitsets.
  func categorySet(node i: Int, _ splits: Splits, bitsetBase: Int) throws(ArbiterError) -> (start: Int, length: Int) {
    guard i < splits.threshold.count else { throw ArbiterError(.dataCorrupted, "\(what): threshold too short") }
    let boundaries = splits.catBoundaries
    let category = Int(splits.threshold[i])
    guard category >= 0, category + 1 < boundaries.count, boundaries[category + 1] <= splits.catThreshold.count,
      boundaries[category] <= boundaries[category + 1]
    else {
      throw ArbiterError(.dataCorrupted, "\(what): node \(i) refers to category set \(category), which does not exist")
    }
    return (bitsetBase + boundaries[category], boundaries[category + 1] - boundaries[category])
  }
}
