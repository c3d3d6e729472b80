/// The settings of ``GradientBoostedTrainer``, named and defaulted as LightGBM's (so that a
/// LightGBM user's habits carry over: `num_leaves` is ``leaves``, `min_data_in_leaf` is
/// ``minimumRowsPerLeaf``, …).
public struct BoostingParameters: Sendable, Hashable, Codable {
  /// Boosting rounds (LightGBM `num_iterations`, 100).
  public var rounds = 100
  /// Shrinkage of each tree (`learning_rate`, 0.1).
  public var learningRate = 0.1
  /// Leaves per tree, grown best-first (`num_leaves`, 31).
  public var leaves = 31
  /// The deepest a leaf may be; nil for no limit (`max_depth`, -1).
  public var maxDepth: Int? = nil
  /// Rows a leaf needs at least (`min_data_in_leaf`, 20).
  public var minimumRowsPerLeaf = 20
  /// Hessian a leaf needs at least (`min_sum_hessian_in_leaf`, 1e-3).
  public var minimumHessianPerLeaf = 1e-3
  /// Gain a split needs at least (`min_gain_to_split`, 0).
  public var minimumGain = 0.0
  /// L1 regularisation of leaf values (`lambda_l1`, 0).
  public var l1 = 0.0
  /// L2 regularisation of leaf values (`lambda_l2`, 0).
  public var l2 = 0.0
  /// Share of the features each tree may use (`feature_fraction`, 1).
  public var featureFraction = 1.0
  /// Share of the rows each bagging round draws (`bagging_fraction`, 1: no bagging).
  public var rowFraction = 1.0
  /// Draw new rows every this many rounds (`bagging_freq`; 0 with a fraction below 1 means 1).
  public var rowFractionEvery = 0
  /// Most bins of a numeric feature (`max_bin`, 255; at most 255).
  public var maxBins = 255
  /// Rows a bin needs at least (`min_data_in_bin`, 3).
  public var minimumRowsPerBin = 3
  /// Categories up to which a categorical split is one-vs-rest (`max_cat_to_onehot`, 4).
  public var oneHotCategoriesUpTo = 4
  /// Most categories on the left of a categorical split (`max_cat_threshold`, 32).
  public var maxCategoriesPerSplit = 32
  /// Smoothing of a category's gradient ratio when ordering categories (`cat_smooth`, 10).
  public var categorySmoothing = 10.0
  /// Extra L2 regularisation of categorical splits (`cat_l2`, 10).
  public var categoryL2 = 10.0
  /// Rows a group of categories needs at least (`min_data_per_group`, 100).
  public var minimumRowsPerCategoryGroup = 100
  /// Stop when the validation log-loss has not improved for this many rounds; nil never stops early.
  public var earlyStoppingRounds: Int? = nil
  /// Weight of positive rows relative to negative ones (`scale_pos_weight`, 1).
  public var positiveWeight = 1.0
  /// Seed of the feature and row draws.
  public var seed: UInt64 = 1
  /// Threads that build histograms; nil uses every core.
  public var threads: Int? = nil

  /// LightGBM's defaults.
  public init() {}

  /// The first setting out of range, named as its command-line option, or nil.
  public var problem: String? {
    if rounds < 1 { return "--rounds must be at least 1" }
    if !(learningRate > 0 && learningRate.isFinite) { return "--learning-rate must be a positive number" }
    if leaves < 2 || leaves > 131_072 { return "--leaves must be between 2 and 131072" }
    if let depth = maxDepth, depth < 1 { return "--max-depth must be at least 1" }
    if minimumRowsPerLeaf < 1 { return "--min-rows-per-leaf must be at least 1" }
    if !(minimumHessianPerLeaf >= 0) { return "--min-hessian-per-leaf must not be negative" }
    if !(minimumGain >= 0) { return "--min-gain must not be negative" }
    if !(l1 >= 0 && l1.isFinite) || !(l2 >= 0 && l2.isFinite) { return "--l1 and --l2 must not be negative" }
    if !(featureFraction > 0 && featureFraction <= 1) { return "--feature-fraction must be in (0, 1]" }
    if !(rowFraction > 0 && rowFraction <= 1) { return "--row-fraction must be in (0, 1]" }
    if maxBins < 2 || maxBins > 255 { return "--max-bins must be between 2 and 255" }
    if minimumRowsPerBin < 1 { return "--min-rows-per-bin must be at least 1" }
    if let rounds = earlyStoppingRounds, rounds < 1 { return "--early-stopping must be at least 1" }
    if !(positiveWeight > 0 && positiveWeight.isFinite) { return "--positive-weight must be a positive number" }
    if let threads, threads < 1 { return "--threads must be at least 1" }
    return nil
  }
}
