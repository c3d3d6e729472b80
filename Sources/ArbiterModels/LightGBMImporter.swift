import ArbiterCore

/// Reads LightGBM's text model format (binary objective) into a ``TreeEnsemble``, resolving the
/// model's feature names against a schema. The objective's `sigmoid` parameter is kept, so that
/// probabilities are LightGBM's `1 / (1 + exp(-sigmoid * score))`. Refuses, naming the problem:
/// another objective (multiclass, regression, ranking, …: no propensity), averaged trees (a random
/// forest), a feature the schema lacks, inconsistent tree arrays, or a file cut short (no "end of
/// trees").
///
/// In stages: the file is cut into its header and `Tree=` sections (``LightGBMSections``), the
/// objective is checked, the feature names resolved, and each tree read (``LightGBMTreeSection``) into a
/// ``TreeEnsembleBuilder``, which checks every reference.
public enum LightGBMImporter {
  /// LightGBM's `kZeroThreshold`, 1e-35 as a float: LightGBM reads a value within it of zero as zero.
  public static let zeroThreshold = Double(Float(1e-35))

  /// Reads a LightGBM text model for `schema`; `file` names the model in errors.
  public static func load(
    _ text: String, schema: FeatureSchema, file: String = "model.txt"
  ) throws(ArbiterError) -> TreeEnsemble {
    let sections = try LightGBMSections(text, file: file)
    let sigmoid = try sigmoid(sections, file: file)
    guard !sections.trees.isEmpty else { throw ArbiterError(.dataCorrupted, "\(file): no trees") }
    let names = sections.header["feature_names"]!.split(separator: " ").map(String.init)
    let indices = try resolve(names, schema: schema, file: file)
    var builder = TreeEnsembleBuilder()
    builder.acceptsInfiniteThreshold = true
    for (t, fields) in sections.trees.enumerated() {
      try LightGBMTreeSection(fields: fields, what: "\(file): tree \(t)").add(to: &builder, indices: indices)
    }
    return builder.build(.lightGBM, baseMargin: 0, sigmoid: sigmoid, featureNames: names)
  }

  /// The `sigmoid` parameter of the model's binary objective (`objective=binary sigmoid:0.5`), read
  /// as LightGBM reads it. Only the binary objective gives a propensity, and only when the trees
  /// are added (boosting), not averaged (`average_output`, a random forest).
  static func sigmoid(_ sections: LightGBMSections, file: String) throws(ArbiterError) -> Double {
    let header = sections.header
    let objective = header["objective"] ?? "?"
    let tokens = objective.split(separator: " ")
    guard header["num_class"] == "1", tokens.first == "binary" else {
      throw ArbiterError(
        .failedPrecondition,
        "\(file): objective '\(objective)' with \(header["num_class"] ?? "?") classes; "
          + "only LightGBM's binary objective gives a propensity")
    }
    guard !sections.averagesOutput else {
      throw ArbiterError(
        .failedPrecondition,
        "\(file): the model averages its trees (average_output, a random forest); "
          + "only boosted models, which add them, are supported")
    }
    guard let parameter = tokens.dropFirst().first(where: { $0.hasPrefix("sigmoid:") }) else {
      throw ArbiterError(.dataCorrupted, "\(file): objective '\(objective)' has no sigmoid parameter")
    }
    let text = parameter.dropFirst("sigmoid:".count)
    guard let sigmoid = commonAtof(text), sigmoid.isFinite, sigmoid > 0 else {
      throw ArbiterError(
        .dataCorrupted, "\(file): objective '\(objective)': the sigmoid parameter '\(text)' is not a positive number")
    }
    return sigmoid
  }

  /// LightGBM's `Common::Atof` (include/LightGBM/utils/common.h), with which it reads the
  /// objective's parameters from a model file: the whole part's digits accumulated in double, the
  /// fraction's digits as an integer over `Common::Pow(10.0, n)` added to it, an exponent applied
  /// by repeated scaling. Not correctly rounded for every text (`1.77483` comes out one bit above
  /// the nearest double), so Arbiter reads it the same way to give LightGBM's probabilities bit
  /// for bit. Nil unless the whole text is a decimal number of that form.
  static func commonAtof(_ text: Substring) -> Double? {
    let bytes = Array(text.utf8)
    var p = 0
    func digit() -> Double? {
      guard p < bytes.count, bytes[p] >= UInt8(ascii: "0"), bytes[p] <= UInt8(ascii: "9") else { return nil }
      defer { p += 1 }
      return Double(bytes[p] - UInt8(ascii: "0"))
    }
    func skip(_ character: Unicode.Scalar) -> Bool {
      guard p < bytes.count, bytes[p] == UInt8(ascii: character) else { return false }
      p += 1
      return true
    }
    let sign = skip("-") ? -1.0 : 1.0
    if sign > 0 { _ = skip("+") }
    var value = 0.0, digits = 0
    while let d = digit() { value = value * 10.0 + d; digits += 1 }
    if skip(".") {
      var right = 0.0, count = 0
      while let d = digit() { right = d + right * 10.0; count += 1 }
      value += right / commonPow(10.0, count)
      digits += count
    }
    guard digits > 0 else { return nil }
    var scale = 1.0, divide = false
    if skip("e") || skip("E") {
      divide = skip("-")
      if !divide { _ = skip("+") }
      var exponent: UInt32 = 0, exponentDigits = 0
      while let d = digit() { exponent = exponent &* 10 &+ UInt32(d); exponentDigits += 1 }
      guard exponentDigits > 0 else { return nil }
      exponent = min(exponent, 308)
      while exponent >= 50 { scale *= 1E50; exponent -= 50 }
      while exponent >= 8 { scale *= 1E8; exponent -= 8 }
      while exponent > 0 { scale *= 10.0; exponent -= 1 }
    }
    guard p == bytes.count else { return nil }
    return sign * (divide ? value / scale : value * scale)
  }

  /// LightGBM's `Common::Pow`: by squaring and cubing, in double (not libm's `pow`).
  static func commonPow(_ base: Double, _ power: Int) -> Double {
    if power < 0 { return 1.0 / commonPow(base, -power) }
    if power == 0 { return 1 }
    if power % 2 == 0 { return commonPow(base * base, power / 2) }
    if power % 3 == 0 { return commonPow(base * base * base, power / 3) }
    return base * commonPow(base, power - 1)
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
  /// Whether the header has LightGBM's `average_output` line (random forest: trees averaged).
  var averagesOutput = false

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
      guard let equals = entry.firstIndex(of: "=") else {
        if current == nil && entry == "average_output" { averagesOutput = true }
        continue
      }
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
    let thresholds =
      splits.threshold.count == nodes.features.count
      ? zip(splits.threshold, nodes.flags).map { threshold, flag in
        flag & TreeEnsemble.categorical != 0 ? threshold : Self.comparingAsZero(threshold)
      } : []
    try builder.addTree(
      what: what, features: nodes.features, thresholds: thresholds, left: splits.leftChild,
      right: splits.rightChild, flags: nodes.flags, bitsets: nodes.bitsets, leaves: leafValues,
      nodeCovers: splits.internalCount, leafCovers: splits.leafCounts)
  }

  /// LightGBM's `kZeroThreshold` (``LightGBMImporter/zeroThreshold``).
  static let zeroThreshold = LightGBMImporter.zeroThreshold

  /// A numeric threshold moved so that comparing a raw value with it decides as LightGBM's
  /// predictor does, which reads every value within ``zeroThreshold`` of zero as zero (its row
  /// readers drop such values): a threshold in [-1e-35, 0) goes just below -1e-35 (the band is
  /// then right, as 0 is), one in [0, 1e-35) to 1e-35 (the band left). Others are unchanged. Done
  /// once at load, so scoring pays nothing for it.
  static func comparingAsZero(_ threshold: Double) -> Double {
    if threshold >= -zeroThreshold && threshold < 0 { return (-zeroThreshold).nextDown }
    if threshold >= 0 && threshold < zeroThreshold { return zeroThreshold }
    return threshold
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
    let setCount = try categorySetCount()
    let catBoundaries: [Int] = setCount > 0 ? try numbers("cat_boundaries") { Int($0) } : []
    let catThreshold: [UInt32] = setCount > 0 ? try numbers("cat_threshold") { UInt32($0) } : []
    // Set k is words catBoundaries[k]..<catBoundaries[k + 1] of catThreshold.
    let ordered = zip(catBoundaries, catBoundaries.dropFirst()).allSatisfy { $0 <= $1 }
    guard
      setCount == 0
        || (catBoundaries.count - 1 == setCount && catBoundaries.first == 0 && ordered
          && catBoundaries.last == catThreshold.count)
    else {
      throw ArbiterError(
        .dataCorrupted,
        "\(what): cat_boundaries '\(fields["cat_boundaries"] ?? "")' do not divide the \(catThreshold.count) words "
          + "of cat_threshold into \(setCount) sets")
    }
    return Splits(
      internalCount: internalCount, leafCounts: leafCounts, splitFeature: splitFeature, threshold: threshold,
      decision: decision, leftChild: leftChild, rightChild: rightChild, catBoundaries: catBoundaries,
      catThreshold: catThreshold)
  }

  /// How many category sets the tree has (`num_cat`, 0 when absent).
  func categorySetCount() throws(ArbiterError) -> Int {
    guard let text = fields["num_cat"] else { return 0 }
    guard let count = Int(text), count >= 0 else {
      throw ArbiterError(.dataCorrupted, "\(what): num_cat '\(text)' is not a count")
    }
    return count
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
    let threshold = splits.threshold[i]
    let sets = max(boundaries.count - 1, 0)
    // Checked as a double before it is made an index (LightGBM truncates it to an int): NaN,
    // infinite or huge thresholds of a corrupt file are refused rather than trapping.
    guard threshold >= 0, threshold < Double(sets) else {
      let said = threshold == threshold.rounded() && abs(threshold) < 1e15 ? "\(Int(threshold))" : "\(threshold)"
      throw ArbiterError(
        .dataCorrupted,
        "\(what): node \(i) refers to category set \(said), which does not exist (the tree has \(sets))")
    }
    let category = Int(threshold)
    return (bitsetBase + boundaries[category], boundaries[category + 1] - boundaries[category])
  }
}
