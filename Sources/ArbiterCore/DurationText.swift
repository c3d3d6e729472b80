/// Durations as people write them in flags and messages: "5m", "30s", "2h", "250ms", "500us".
public enum DurationText {
  /// The shortest exact text of `duration` in whole hours, minutes, seconds, milliseconds or
  /// microseconds (shorter parts are dropped).
  public static func format(_ duration: Duration) -> String {
    let (seconds, attoseconds) = duration.components
    if attoseconds % 1_000_000_000_000_000 != 0 {
      return "\(seconds * 1_000_000 + attoseconds / 1_000_000_000_000)us"
    }
    guard attoseconds == 0 else { return "\(seconds * 1_000 + attoseconds / 1_000_000_000_000_000)ms" }
    if seconds != 0 && seconds % 3_600 == 0 { return "\(seconds / 3_600)h" }
    if seconds != 0 && seconds % 60 == 0 { return "\(seconds / 60)m" }
    return "\(seconds)s"
  }

  /// Parses a whole number with a unit (`us` or `µs`, `ms`, `s`, `m`, `h`; none means seconds);
  /// nil when the text is not one, or is negative.
  public static func parse(_ text: String) -> Duration? {
    let units: [(suffix: String, microseconds: Int64)] = [
      ("us", 1), ("µs", 1), ("ms", 1_000), ("s", 1_000_000), ("m", 60_000_000), ("h", 3_600_000_000),
      ("d", 86_400_000_000),
    ]
    let unit = units.first { text.hasSuffix($0.suffix) } ?? ("", 1_000_000)
    guard let count = Int64(text.dropLast(unit.suffix.count)), count >= 0 else { return nil }
    let (microseconds, overflow) = count.multipliedReportingOverflow(by: unit.microseconds)
    return overflow ? nil : .microseconds(microseconds)
  }
}
