import ArbiterCore

/// How a schema's customer and context features are laid out in a ``ScoringRow``: customer
/// features first, then context features, and the number of levels of each categorical one.
public struct ScoringLayout: Sendable {
  /// Customer width plus context count.
  public let count: Int
  /// The number of customer features, which come first in the row.
  public let customerCount: Int
  /// Per position: the categorical feature's level count, or 0 for a numeric or boolean one.
  let levelCounts: [Int32]

  /// The layout of `schema`'s customer features followed by its context features.
  public init(schema: FeatureSchema) {
    customerCount = schema.width
    let all = schema.customerFeatures + schema.contextFeatures
    count = all.count
    levelCounts = all.map { definition in
      if case .categorical(let levels) = definition.kind { Int32(levels.count) } else { 0 }
    }
  }

  /// Bitset words for `count` positions.
  public var words: Int { (count + 63) / 64 }
}

/// One request's customer and context values prepared once for every offer's logistic model:
/// values as doubles (missing as 0), a bitset of missing positions, and for each categorical
/// feature the slot of its code in the models' tables (code, then "unknown code", then "missing").
/// The buffers live on the caller's stack (``prepare(_:customer:context:_:)``).
public struct ScoringRow {
  /// Per position, the value as a double; 0 when missing.
  public let values: UnsafePointer<Double>
  /// Per position, a categorical feature's table slot: its code, then the level count for an unknown code, and one
  /// more than the level count when missing.
  public let slots: UnsafePointer<Int32>
  /// Bitset of missing positions: bit `i & 63` of word `i >> 6` is set when position `i` is missing.
  public let missing: UnsafePointer<UInt64>

  /// Prepares the row in stack memory and runs `body` with it.
  public static func prepare<R>(
    layout: ScoringLayout, customer: UnsafeBufferPointer<Float>, context: UnsafeBufferPointer<Float>,
    _ body: (ScoringRow) throws -> R
  ) rethrows -> R {
    let n = max(1, layout.count)
    return try withUnsafeTemporaryAllocation(of: Double.self, capacity: n) { values in
      try withUnsafeTemporaryAllocation(of: Int32.self, capacity: n) { slots in
        try withUnsafeTemporaryAllocation(of: UInt64.self, capacity: max(1, layout.words)) { missing in
          for w in 0..<missing.count { missing[w] = 0 }
          layout.levelCounts.withUnsafeBufferPointer { levels in
            for i in 0..<layout.count {
              let raw =
                i < layout.customerCount
                ? customer[i] : (i - layout.customerCount < context.count ? context[i - layout.customerCount] : .nan)
              let levelCount = levels[i]
              if raw.isNaN {
                values[i] = 0
                missing[i >> 6] |= 1 << UInt64(i & 63)
                slots[i] = levelCount + 1
              } else {
                values[i] = Double(raw)
                slots[i] =
                  raw >= 0 && raw < Float(levelCount) && raw == raw.rounded(.towardZero) ? Int32(raw) : levelCount
              }
            }
          }
          return try body(
            ScoringRow(values: values.baseAddress!, slots: slots.baseAddress!, missing: missing.baseAddress!))
        }
      }
    }
  }
}
