import ArbiterCore
import Foundation

/// The header row: its column names, the id and name columns, and the schema feature each other
/// column fills.
extension CSVImporter {
  /// The header row mapped to the schema.
  struct Columns: Sendable {
    /// The header's names, trimmed of spaces.
    let names: [String]
    /// The `customer_id` column.
    let id: Int
    /// The `display_name` column, if there is one.
    let name: Int?
    /// Per column, the index of the feature it fills; -1 for the id, the name and ignored columns.
    let features: [Int]
    /// Where the rows start: after the header's line.
    let bodyStart: Int
  }

  /// Reads and checks the header: an id column, no name twice, a column for every feature that
  /// is not internal state. Columns that are not features are listed in `ignored`.
  static func readColumns(
    _ bytes: UnsafeRawBufferPointer, path: String, schema: FeatureSchema, ignored: inout [String]
  ) throws(ArbiterError) -> Columns {
    let (names, headerEnd) = try readHeaderNames(bytes, path: path)
    guard let idColumn = names.firstIndex(of: "customer_id") else {
      throw ArbiterError(.invalidArgument, "\(path):1: no 'customer_id' column in the header")
    }
    let nameColumn = names.firstIndex(of: "display_name")
    let features = try featureColumns(
      names, id: idColumn, name: nameColumn, path: path, schema: schema, ignored: &ignored)
    try checkEveryFeatureHasColumn(features, path: path, schema: schema)
    return Columns(
      names: names, id: idColumn, name: nameColumn, features: features, bodyStart: min(bytes.count, headerEnd + 1))
  }

  /// The header line's fields (RFC 4180 quoting, trimmed, a trailing CR dropped) and where the
  /// line ends.
  private static func readHeaderNames(
    _ bytes: UnsafeRawBufferPointer, path: String
  ) throws(ArbiterError) -> (names: [String], end: Int) {
    let length = bytes.count
    guard let headerEnd = bytes.firstIndex(of: 0x0a) ?? (length > 0 ? length : nil) else {
      throw ArbiterError(.invalidArgument, "\(path): no header row")
    }
    var header: [String] = []
    var cursor = 0
    while cursor < headerEnd {
      let (field, next) = try readField(bytes, from: cursor, end: headerEnd, line: 1, path: path)
      header.append(field.trimmingCharacters(in: .whitespaces))
      cursor = next
    }
    if header.last?.hasSuffix("\r") == true { header[header.count - 1].removeLast() }
    return (header, headerEnd)
  }

  /// Per column the feature it fills (-1 for none); refuses a name that appears twice and lists
  /// the columns that are neither the id, the name nor a feature in `ignored`.
  private static func featureColumns(
    _ header: [String], id idColumn: Int, name nameColumn: Int?, path: String, schema: FeatureSchema,
    ignored: inout [String]
  ) throws(ArbiterError) -> [Int] {
    var featureOfColumn = [Int](repeating: -1, count: header.count)
    var seen = Set<String>()
    for (column, name) in header.enumerated() {
      guard seen.insert(name).inserted else {
        throw ArbiterError(.invalidArgument, "\(path):1: column '\(name)' appears twice")
      }
      if column == idColumn || column == nameColumn { continue }
      if let feature = schema.customerIndex(of: name) {
        featureOfColumn[column] = feature
      } else {
        ignored.append(name)
      }
    }
    return featureOfColumn
  }

  /// Refuses a header without a column for some feature that is not internal state, naming the
  /// first five.
  private static func checkEveryFeatureHasColumn(
    _ featureOfColumn: [Int], path: String, schema: FeatureSchema
  ) throws(ArbiterError) {
    let missing = schema.customerFeatures.enumerated().filter { feature in
      !featureOfColumn.contains(feature.offset) && !CompiledDerivationsInternal.isInternal(feature.element)
    }
    guard missing.isEmpty else {
      let named = missing.prefix(5).map { "'\($0.element.name)'" }.joined(separator: ", ")
      let more = missing.count > 5 ? " and \(missing.count - 5) more" : ""
      throw ArbiterError(.invalidArgument, "\(path):1: no column for feature(s) \(named)\(more)")
    }
  }
}
