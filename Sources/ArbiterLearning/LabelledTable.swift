import ArbiterCore

/// A warehouse export read for training: one column of values per feature (the store's
/// representation: numbers as they are, a boolean as 0 or 1, a category as its level's index in
/// the schema, NaN for missing), the binary target, and optionally each row's id and the value of
/// the column that splits it into folds.
public struct LabelledTable: Sendable {
  /// The features, in column order; categorical levels in index order.
  public var schema: FeatureSchema
  /// `columns[feature][row]`.
  public var columns: [[Float]]
  /// The target of each row: true for the positive class.
  public var labels: [Bool]
  /// Each row's 1-based line in its file, for messages.
  public var lines: [Int]
  /// Each row's id, when an id column was named.
  public var ids: [String]?
  /// Each row's value of the split column, when one was named.
  public var splitKeys: [String]?

  /// A table from its parts; every column has one value per label.
  public init(
    schema: FeatureSchema, columns: [[Float]], labels: [Bool], lines: [Int], ids: [String]? = nil,
    splitKeys: [String]? = nil
  ) {
    precondition(columns.count == schema.customerFeatures.count && columns.allSatisfy { $0.count == labels.count })
    self.schema = schema
    self.columns = columns
    self.labels = labels
    self.lines = lines
    self.ids = ids
    self.splitKeys = splitKeys
  }

  /// How many rows.
  public var rowCount: Int { labels.count }
  /// How many features.
  public var featureCount: Int { columns.count }
  /// How many rows are positive.
  public var positiveCount: Int { labels.lazy.filter { $0 }.count }

  /// The rows at `indices`, in that order.
  public func rows(_ indices: [Int]) -> LabelledTable {
    LabelledTable(
      schema: schema, columns: columns.map { column in indices.map { column[$0] } }, labels: indices.map { labels[$0] },
      lines: indices.map { lines[$0] }, ids: ids.map { ids in indices.map { ids[$0] } },
      splitKeys: splitKeys.map { keys in indices.map { keys[$0] } })
  }

  /// Row `row`'s feature values, in schema order.
  public func vector(row: Int) -> [Float] { columns.map { $0[row] } }
}
