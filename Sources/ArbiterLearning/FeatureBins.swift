import ArbiterModels

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// How one feature's values fall into histogram bins, found from the training rows as LightGBM's
/// `BinMapper` finds them, so that the two see the same split candidates:
/// - a numeric feature gets at most `maxBins` bins of about equal counts (a distinct value as
///   frequent as a whole bin gets a bin of its own), a bin of its own for zero, bounds at the
///   midpoints between neighbouring values, and a last bin for NaN when the rows had NaN;
/// - a categorical feature gets a bin per category, most frequent first, until 99% of the rows
///   are covered, and an "other" bin for the rest, NaN and categories never seen.
struct FeatureBins: Sendable {
  /// LightGBM's `kZeroThreshold` (1e-35 as a float): values within it of zero are zero.
  static let zeroThreshold = LightGBMImporter.zeroThreshold

  /// Whether the bins are ordered numbers or unordered categories.
  enum Kind: Sendable { case numeric, categorical }

  let kind: Kind
  /// Numeric: the upper bound of each number bin (`x <= upperBounds[b]` falls in bin `b` or before); the last is +inf.
  let upperBounds: [Double]
  /// Numeric: whether the rows had NaN, which then has the bin after the number bins.
  let hasMissingBin: Bool
  /// Categorical: each bin's category, most frequent first; the bin after them is "other".
  let categories: [Int]
  /// Categorical: whether every row's category has a bin of its own (no NaN, none left out).
  let coversAllRows: Bool
  /// The smallest and largest number seen (numeric), for LightGBM's `feature_infos`.
  let minimum: Double
  let maximum: Double
  /// Category value → bin (categorical).
  private let binOfCategory: [UInt8]

  /// How many bins.
  var binCount: Int {
    switch kind {
    case .numeric: upperBounds.count + (hasMissingBin ? 1 : 0)
    case .categorical: categories.count + 1
    }
  }

  /// The bins of the values that are numbers (numeric), or of the categories that have one.
  var valueBinCount: Int { kind == .numeric ? upperBounds.count : categories.count }

  /// Whether every row falls in one bin, so no split can use the feature.
  var isTrivial: Bool {
    switch kind {
    case .numeric: binCount <= 1
    case .categorical: categories.count <= 1 && coversAllRows || categories.isEmpty
    }
  }

  /// The bin of a value.
  @inline(__always)
  func bin(of value: Float) -> UInt8 {
    switch kind {
    case .numeric:
      if value.isNaN {
        if hasMissingBin { return UInt8(upperBounds.count) }
        return numberBin(0)
      }
      // LightGBM reads a value within 1e-35 of zero as zero.
      let number = Double(value)
      return numberBin(abs(number) <= Self.zeroThreshold ? 0 : number)
    case .categorical:
      guard !value.isNaN, value >= 0, value < Float(binOfCategory.count) else { return UInt8(categories.count) }
      return binOfCategory[Int(value)]
    }
  }

  @inline(__always)
  private func numberBin(_ value: Double) -> UInt8 {
    var low = 0, high = upperBounds.count - 1
    while low < high {
      let middle = (low + high) / 2
      if value <= upperBounds[middle] { high = middle } else { low = middle + 1 }
    }
    return UInt8(low)
  }

  /// The bins of a numeric column (NaN is missing).
  init(numeric values: [Float], maxBins: Int, minimumRowsPerBin: Int) {
    kind = .numeric
    categories = []
    binOfCategory = []
    coversAllRows = true
    var numbers = values.filter { !$0.isNaN }.map { abs(Double($0)) <= Self.zeroThreshold ? 0 : Double($0) }
    hasMissingBin = numbers.count < values.count
    numbers.sort()
    minimum = numbers.first ?? 0
    maximum = numbers.last ?? 0
    var distinct: [Double] = []
    var counts: [Int] = []
    for value in numbers {
      if let last = distinct.last, value <= last.nextUp {
        counts[counts.count - 1] += 1
      } else {
        distinct.append(value)
        counts.append(1)
      }
    }
    if distinct.isEmpty {
      upperBounds = [.infinity]
    } else {
      upperBounds = Self.boundsWithZeroAsOneBin(
        distinct: distinct, counts: counts, maxBins: hasMissingBin ? maxBins - 1 : maxBins, total: numbers.count,
        minimumRowsPerBin: minimumRowsPerBin)
    }
  }

  /// The bins of a categorical column of level indices (NaN, negative: missing).
  init(categorical values: [Float], maxBins: Int, minimumRowsPerBin: Int) {
    kind = .categorical
    upperBounds = []
    hasMissingBin = false
    var counts: [Int: Int] = [:]
    var missing = 0
    for value in values {
      if value.isNaN || value < 0 { missing += 1 } else { counts[Int(value), default: 0] += 1 }
    }
    let byCount = counts.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
    let cut = Int((Double(values.count - missing) * 0.99).rounded())
    var kept: [Int] = []
    var used = 0
    let most = min(byCount.count, maxBins)
    var k = 0
    while k < byCount.count, used < cut || kept.count < most, kept.count < maxBins {
      if byCount[k].value < minimumRowsPerBin && k > 1 { break }
      kept.append(byCount[k].key)
      used += byCount[k].value
      k += 1
    }
    categories = kept
    coversAllRows = kept.count == byCount.count && missing == 0
    var table = [UInt8](repeating: UInt8(kept.count), count: (counts.keys.max() ?? -1) + 1)
    for (bin, category) in kept.enumerated() { table[category] = UInt8(bin) }
    binOfCategory = table
    minimum = Double(kept.min() ?? 0)
    maximum = Double(kept.max() ?? 0)
  }

  /// LightGBM's `GetDoubleUpperBound`: the next double above.
  static func upperBound(_ value: Double) -> Double { value.nextUp }

  /// LightGBM's `FindBinWithZeroAsOneBin`: bins for the negative numbers and for the positive
  /// ones apart, in proportion to their counts, with zero between them in a bin of its own.
  static func boundsWithZeroAsOneBin(
    distinct: [Double], counts: [Int], maxBins: Int, total: Int, minimumRowsPerBin: Int
  ) -> [Double] {
    var leftRows = 0, zeroRows = 0, rightRows = 0
    for (value, count) in zip(distinct, counts) {
      if value <= -zeroThreshold {
        leftRows += count
      } else if value > zeroThreshold {
        rightRows += count
      } else {
        zeroRows += count
      }
    }
    let leftCount = distinct.firstIndex { $0 > -zeroThreshold } ?? distinct.count
    var bounds: [Double] = []
    if leftCount > 0, maxBins > 1 {
      let leftMaxBins = max(1, Int(Double(leftRows) / Double(total - zeroRows) * Double(maxBins - 1)))
      bounds = greedyBounds(
        distinct: distinct[0..<leftCount], counts: counts[0..<leftCount], maxBins: leftMaxBins, total: leftRows,
        minimumRowsPerBin: minimumRowsPerBin)
      if !bounds.isEmpty { bounds[bounds.count - 1] = -zeroThreshold }
    }
    let rightStart = distinct[leftCount...].firstIndex { $0 > zeroThreshold }
    let rightMaxBins = maxBins - 1 - bounds.count
    if let start = rightStart, rightMaxBins > 0 {
      let right = greedyBounds(
        distinct: distinct[start...], counts: counts[start...], maxBins: rightMaxBins, total: rightRows,
        minimumRowsPerBin: minimumRowsPerBin)
      bounds.append(zeroThreshold)
      bounds += right
    } else {
      bounds.append(.infinity)
    }
    return bounds
  }

  /// LightGBM's `GreedyFindBin`: with few distinct values a bound between each neighbouring pair
  /// (once a bin has its minimum rows); with many, bins of about equal counts, a value at least
  /// as frequent as a bin getting one of its own. The last bound is +inf.
  static func greedyBounds(
    distinct: ArraySlice<Double>, counts: ArraySlice<Int>, maxBins: Int, total: Int, minimumRowsPerBin: Int
  ) -> [Double] {
    let values = Array(distinct), counts = Array(counts)
    let n = values.count
    var bounds: [Double] = []
    if n <= maxBins {
      var inBin = 0
      for i in 0..<(n - 1) {
        inBin += counts[i]
        if inBin >= minimumRowsPerBin {
          let value = upperBound((values[i] + values[i + 1]) / 2)
          if bounds.isEmpty || !(value <= bounds[bounds.count - 1].nextUp) {
            bounds.append(value)
            inBin = 0
          }
        }
      }
      bounds.append(.infinity)
      return bounds
    }
    var maxBins = maxBins
    if minimumRowsPerBin > 0 { maxBins = max(1, min(maxBins, total / minimumRowsPerBin)) }
    var meanBinSize = Double(total) / Double(maxBins)
    var restBins = maxBins
    var restRows = total
    var isBig = [Bool](repeating: false, count: n)
    for i in 0..<n where Double(counts[i]) >= meanBinSize {
      isBig[i] = true
      restBins -= 1
      restRows -= counts[i]
    }
    meanBinSize = Double(restRows) / Double(restBins)
    var upper = [Double](repeating: .infinity, count: maxBins)
    var lower = [Double](repeating: .infinity, count: maxBins)
    var binCount = 0
    lower[0] = values[0]
    var inBin = 0
    for i in 0..<(n - 1) {
      if !isBig[i] { restRows -= counts[i] }
      inBin += counts[i]
      if isBig[i] || Double(inBin) >= meanBinSize
        || (isBig[i + 1] && Double(inBin) >= max(1.0, meanBinSize * Double(Float(0.5))))
      {
        upper[binCount] = values[i]
        binCount += 1
        lower[binCount] = values[i + 1]
        if binCount >= maxBins - 1 { break }
        inBin = 0
        if !isBig[i] {
          restBins -= 1
          meanBinSize = Double(restRows) / Double(restBins)
        }
      }
    }
    binCount += 1
    for i in 0..<(binCount - 1) {
      let value = upperBound((upper[i] + lower[i + 1]) / 2)
      if bounds.isEmpty || !(value <= bounds[bounds.count - 1].nextUp) { bounds.append(value) }
    }
    bounds.append(.infinity)
    return bounds
  }
}
