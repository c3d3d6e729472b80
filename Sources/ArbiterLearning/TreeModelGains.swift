/// The gain and split count of each feature of a LightGBM text model, read from its trees'
/// `split_feature` and `split_gain` lines (LightGBM's "gain" and "split" importance).
public enum TreeModelGains {
  /// Feature name → (total gain, splits); empty when the text has no such lines.
  public static func lightGBM(_ text: String) -> [String: (gain: Double, splits: Int)] {
    var names: [String] = []
    var result: [String: (gain: Double, splits: Int)] = [:]
    var features: [Int] = []
    for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
      if line.hasPrefix("feature_names=") {
        names = line.dropFirst("feature_names=".count).split(separator: " ").map(String.init)
      } else if line.hasPrefix("split_feature=") {
        features = line.dropFirst("split_feature=".count).split(separator: " ").compactMap { Int($0) }
      } else if line.hasPrefix("split_gain=") {
        let gains = line.dropFirst("split_gain=".count).split(separator: " ").compactMap { Double($0) }
        for (feature, gain) in zip(features, gains) where feature >= 0 && feature < names.count {
          let sum = result[names[feature], default: (0, 0)]
          result[names[feature]] = (sum.gain + gain, sum.splits + 1)
        }
        features = []
      }
    }
    return result
  }
}
