import ArbiterCore

/// A table's feature columns as bin numbers (one byte a value), with each feature's bins and its
/// place in a histogram of all features.
struct BinnedColumns: Sendable {
  /// Each feature's bins, found from the training rows.
  let bins: [FeatureBins]
  /// The rows' bins, feature after feature: `flat[feature * rowCount + row]`.
  let flat: [UInt8]
  /// Where each feature's bins start in a histogram of all features.
  let offsets: [Int]
  /// Bins of all features.
  let totalBins: Int
  /// How many rows.
  let rowCount: Int

  /// Finds every feature's bins from `table` and bins its rows.
  init(fitting table: LabelledTable, parameters: BoostingParameters) {
    var bins: [FeatureBins] = []
    for (feature, column) in zip(table.schema.customerFeatures, table.columns) {
      if case .categorical = feature.kind {
        bins.append(
          FeatureBins(categorical: column, maxBins: parameters.maxBins, minimumRowsPerBin: parameters.minimumRowsPerBin))
      } else {
        bins.append(
          FeatureBins(numeric: column, maxBins: parameters.maxBins, minimumRowsPerBin: parameters.minimumRowsPerBin))
      }
    }
    self.init(bins: bins, table: table)
  }

  /// Bins the rows of `table` with bins found before (a validation set with the training set's bins).
  init(bins: [FeatureBins], table: LabelledTable) {
    self.bins = bins
    var offsets: [Int] = []
    var total = 0
    for feature in bins {
      offsets.append(total)
      total += feature.binCount
    }
    self.offsets = offsets
    self.totalBins = total
    self.rowCount = table.rowCount
    var flat: [UInt8] = []
    flat.reserveCapacity(bins.count * table.rowCount)
    for (feature, column) in zip(bins, table.columns) {
      for value in column { flat.append(feature.bin(of: value)) }
    }
    self.flat = flat
  }
}
