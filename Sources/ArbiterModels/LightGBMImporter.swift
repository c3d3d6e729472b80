import ArbiterCore

/// Reads LightGBM's text model format (binary objective) into a ``TreeEnsemble``, resolving the
/// model's feature names against a schema. Refuses, naming the problem: another objective, a
/// feature the schema lacks, inconsistent tree arrays, or a file cut short (no "end of trees").
public enum LightGBMImporter {
  public static func load(_ text: String, schema: FeatureSchema, file: String = "model.txt") throws(ArbiterError) -> TreeEnsemble {
    var header: [String: String] = [:]
    var trees: [[String: String]] = []
    var current: [String: String]?
    var ended = false
    var line = 0
    for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
      line += 1
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
    guard ended else { throw ArbiterError(.dataCorrupted, "\(file): truncated (no 'end of trees' line after \(trees.count) trees)") }
    guard header["num_class"] == "1", header["objective"]?.hasPrefix("binary") == true else {
      throw ArbiterError(.failedPrecondition, "\(file): objective '\(header["objective"] ?? "?")' with \(header["num_class"] ?? "?") classes; only binary models are supported")
    }
    guard !trees.isEmpty else { throw ArbiterError(.dataCorrupted, "\(file): no trees") }
    let names = header["feature_names"]!.split(separator: " ").map(String.init)
    var indices: [Int] = []
    for name in names {
      guard let index = schema.customerIndex(of: name) else {
        throw ArbiterError(.failedPrecondition, "\(file): the model uses feature '\(name)', which the schema lacks")
      }
      indices.append(index)
    }

    var builder = TreeEnsembleBuilder()
    builder.acceptsInfiniteThreshold = true
    for (t, tree) in trees.enumerated() {
      let what = "\(file): tree \(t)"
      func numbers<T>(_ key: String, _ parse: (Substring) -> T?) throws(ArbiterError) -> [T] {
        guard let value = tree[key] else { throw ArbiterError(.dataCorrupted, "\(what): no \(key)") }
        var result: [T] = []
        for token in value.split(separator: " ") {
          guard let parsed = parse(token) else { throw ArbiterError(.dataCorrupted, "\(what): \(key) has '\(token)', not a number") }
          result.append(parsed)
        }
        return result
      }
      guard let leavesText = tree["num_leaves"], let leafCount = Int(leavesText), leafCount >= 1 else {
        throw ArbiterError(.dataCorrupted, "\(what): no num_leaves")
      }
      let leafValues: [Double] = try numbers("leaf_value") { Double($0) }
      guard leafValues.count == leafCount else { throw ArbiterError(.dataCorrupted, "\(what): \(leafValues.count) leaf values for \(leafCount) leaves") }
      if leafCount == 1 {
        try builder.addTree(what: what, features: [], thresholds: [], left: [], right: [], flags: [], bitsets: [], leaves: leafValues, nodeCovers: [], leafCovers: [1])
        continue
      }
      let internalCount: [Double] = try numbers("internal_count") { Double($0) }
      let leafCounts: [Double] = try numbers("leaf_count") { Double($0) }
      let splitFeature: [Int] = try numbers("split_feature") { Int($0) }
      let threshold: [Double] = try numbers("threshold") { Double($0) }
      let decision: [Int] = try numbers("decision_type") { Int($0) }
      let leftChild: [Int] = try numbers("left_child") { Int($0) }
      let rightChild: [Int] = try numbers("right_child") { Int($0) }
      let catBoundaries: [Int] = (Int(tree["num_cat"] ?? "0") ?? 0) > 0 ? try numbers("cat_boundaries") { Int($0) } : []
      let catThreshold: [UInt32] = (Int(tree["num_cat"] ?? "0") ?? 0) > 0 ? try numbers("cat_threshold") { UInt32($0) } : []
      var features: [Int] = [], flags: [UInt8] = [], bitsets: [(start: Int, length: Int)?] = []
      let bitsetBase = builder.bitsets.count
      builder.bitsets.append(contentsOf: catThreshold)
      for i in splitFeature.indices {
        guard splitFeature[i] >= 0 && splitFeature[i] < indices.count else {
          throw ArbiterError(.dataCorrupted, "\(what): node \(i) splits on feature \(splitFeature[i]), the model has \(indices.count)")
        }
        features.append(indices[splitFeature[i]])
        guard i < decision.count else { throw ArbiterError(.dataCorrupted, "\(what): decision_type too short") }
        let type = decision[i]
        var flag = UInt8(0)
        if type & 1 != 0 { flag |= TreeEnsemble.categorical }
        if type & 2 != 0 { flag |= TreeEnsemble.defaultLeft }
        flag |= UInt8(((type >> 2) & 3) << 2)
        flags.append(flag)
        if type & 1 != 0 {
          guard i < threshold.count else { throw ArbiterError(.dataCorrupted, "\(what): threshold too short") }
          let category = Int(threshold[i])
          guard category >= 0, category + 1 < catBoundaries.count, catBoundaries[category + 1] <= catThreshold.count,
            catBoundaries[category] <= catBoundaries[category + 1]
          else { throw ArbiterError(.dataCorrupted, "\(what): node \(i) refers to category set \(category), which does not exist") }
          bitsets.append((bitsetBase + catBoundaries[category], catBoundaries[category + 1] - catBoundaries[category]))
        } else {
          bitsets.append(nil)
        }
      }
      try builder.addTree(
        what: what, features: features, thresholds: threshold.count == features.count ? threshold : [], left: leftChild, right: rightChild,
        flags: flags, bitsets: bitsets, leaves: leafValues, nodeCovers: internalCount, leafCovers: leafCounts)
    }
    return builder.build(.lightGBM, baseMargin: 0, featureNames: names)
  }
}
