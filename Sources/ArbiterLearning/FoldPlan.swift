import ArbiterCore

/// Which rows train and which test: k folds or a hold-out, by a split column's values (rows
/// with the same value always together; integer values 0, 1, … are the folds themselves) or, without
/// one, by a seeded shuffle of the rows.
public struct FoldPlan: Sendable {
  /// Each row's fold.
  public let folds: [Int]
  /// How many folds.
  public let foldCount: Int

  /// `k` folds. With split keys that are all small non-negative integers, each distinct key is a
  /// fold (and `k` must match their number); other keys are hashed into `k` folds.
  public static func kFold(_ k: Int, table: LabelledTable, seed: UInt64) throws(ArbiterError) -> FoldPlan {
    guard k >= 2 else { throw ArbiterError(.invalidArgument, "--folds must be at least 2") }
    guard table.rowCount >= k else {
      throw ArbiterError(.invalidArgument, "\(table.rowCount) rows cannot make \(k) folds")
    }
    if let keys = table.splitKeys {
      let numbers = keys.map { Int($0.trimmingCharacters(in: .whitespaces)) }
      if numbers.allSatisfy({ $0 != nil && $0! >= 0 && $0! < 1_000 }) {
        let distinct = Set(numbers.map { $0! }).sorted()
        guard distinct.count == k else {
          throw ArbiterError(
            .invalidArgument, "the split column has \(distinct.count) fold numbers (\(distinct.prefix(10).map(String.init).joined(separator: ", "))); --folds is \(k)")
        }
        let fold = Dictionary(uniqueKeysWithValues: distinct.enumerated().map { ($1, $0) })
        return FoldPlan(folds: numbers.map { fold[$0!]! }, foldCount: k)
      }
      return FoldPlan(folds: keys.map { Int(Self.hash($0) % UInt64(k)) }, foldCount: k)
    }
    var order = Array(0..<table.rowCount)
    var random = SeededGenerator(seed: seed)
    for i in order.indices.dropLast() { order.swapAt(i, i + random.below(order.count - i)) }
    var folds = [Int](repeating: 0, count: table.rowCount)
    for (position, row) in order.enumerated() { folds[row] = position % k }
    return FoldPlan(folds: folds, foldCount: k)
  }

  /// A hold-out of about `share` of the rows (fold 1), the rest training (fold 0).
  public static func holdout(_ share: Double, table: LabelledTable, seed: UInt64) throws(ArbiterError) -> FoldPlan {
    guard share > 0, share < 1 else { throw ArbiterError(.invalidArgument, "--holdout must be between 0 and 1") }
    if let keys = table.splitKeys {
      let cut = UInt64(share * 1_000_000)
      return FoldPlan(folds: keys.map { Self.hash($0) % 1_000_000 < cut ? 1 : 0 }, foldCount: 2)
    }
    var random = SeededGenerator(seed: seed)
    return FoldPlan(folds: (0..<table.rowCount).map { _ in random.uniform() < share ? 1 : 0 }, foldCount: 2)
  }

  static func hash(_ text: String) -> UInt64 {
    var hasher = FNV1a()
    hasher.combine(text)
    return hasher.value
  }

  /// The rows outside fold `k`.
  public func training(_ k: Int) -> [Int] { folds.indices.filter { folds[$0] != k } }
  /// The rows in fold `k`.
  public func testing(_ k: Int) -> [Int] { folds.indices.filter { folds[$0] == k } }
}
