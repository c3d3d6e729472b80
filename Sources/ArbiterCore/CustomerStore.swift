/// One customer as supplied to the store: an id, a display name and a feature vector laid out by
/// the store's schema.
public struct CustomerRecord: Sendable, Hashable {
  /// The customer's id; 0 is reserved for anonymous visitors and refused by the store.
  public var id: UInt64
  /// The name shown to agents and used in treatments.
  public var displayName: String
  /// The feature values, one per schema feature in schema order; NaN means missing.
  public var values: [Float]

  /// Creates a record from an id, a display name and a feature vector.
  public init(id: UInt64, displayName: String, values: [Float]) {
    self.id = id
    self.displayName = displayName
    self.values = values
  }
}

/// An immutable, in-memory set of customer feature vectors with an id → row index.
///
/// Vectors live in one contiguous row-major `Float` array, ids in a sorted array searched by
/// bisection: a lookup takes no lock and allocates nothing. A new store is built and published
/// as a whole (see `LiveState` in ArbiterDecisioning).
public final class CustomerStore: Sendable {
  /// The schema the vectors are laid out by.
  public let schema: FeatureSchema
  /// Sorted ascending; `ids[row]` is the id of `row`.
  public let ids: [UInt64]
  /// `values[row * width + feature]`.
  public let values: [Float]
  /// `displayNames[row]` is the display name of `row`.
  public let displayNames: [String]
  /// The number of features in each vector (the schema's width).
  public let width: Int

  /// Builds a store; records may come in any order. Throws on a duplicate id, a zero id or a
  /// vector of the wrong width.
  public init(schema: FeatureSchema, records: [CustomerRecord]) throws(ArbiterError) {
    let width = schema.width
    let sorted = records.sorted { $0.id < $1.id }
    var ids = [UInt64]()
    ids.reserveCapacity(sorted.count)
    var values = [Float]()
    values.reserveCapacity(sorted.count * width)
    var names = [String]()
    names.reserveCapacity(sorted.count)
    for (position, record) in sorted.enumerated() {
      guard record.id != 0 else {
        throw ArbiterError(.invalidArgument, "customer id 0 is reserved for anonymous visitors")
      }
      if position > 0, sorted[position - 1].id == record.id {
        throw ArbiterError(.alreadyExists, "customer \(record.id) appears twice")
      }
      guard record.values.count == width else {
        throw ArbiterError(
          .invalidArgument,
          "customer \(record.id) has \(record.values.count) feature values, the schema has \(width)")
      }
      ids.append(record.id)
      values.append(contentsOf: record.values)
      names.append(record.displayName)
    }
    self.schema = schema
    self.ids = ids
    self.values = values
    self.displayNames = names
    self.width = width
  }

  /// Number of customers.
  public var count: Int { ids.count }

  /// The row of a customer, or nil when the id is unknown.
  @inlinable
  public func row(of id: UInt64) -> Int? {
    var low = 0
    var high = ids.count
    while low < high {
      let middle = (low &+ high) >> 1
      let candidate = ids[middle]
      if candidate < id { low = middle + 1 } else if candidate > id { high = middle } else { return middle }
    }
    return nil
  }

  /// One feature value of one row.
  @inlinable
  public func value(row: Int, feature: Int) -> Float {
    values[row * width + feature]
  }

  /// Runs `body` over a row's vector without copying it.
  @inlinable
  public func withRow<R>(_ row: Int, _ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
    try values.withUnsafeBufferPointer { all in
      try body(UnsafeBufferPointer(rebasing: all[(row * width)..<((row + 1) * width)]))
    }
  }

  /// A copy of a customer as a record.
  public func record(row: Int) -> CustomerRecord {
    CustomerRecord(
      id: ids[row], displayName: displayNames[row],
      values: Array(values[(row * width)..<((row + 1) * width)]))
  }
}
