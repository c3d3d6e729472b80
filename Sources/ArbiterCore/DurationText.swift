/// Durations as people write them in flags and messages: "5m", "30s", "2h", "250ms".
public enum DurationText {
  /// The shortest exact text of `duration` in whole hours, minutes, seconds or milliseconds.
  public static func format(_ duration: Duration) -> String {
    let (seconds, attoseconds) = duration.components
    guard attoseconds == 0 else { return "\(seconds * 1_000 + attoseconds / 1_000_000_000_000_000)ms" }
    if seconds != 0 && seconds % 3_600 == 0 { return "\(seconds / 3_600)h" }
    if seconds != 0 && seconds % 60 == 0 { return "\(seconds / 60)m" }
    return "\(seconds)s"
  }

  /// Parses a whole number with a unit (`ms`, `s`, `m`, `h`; none means seconds); nil when the
  /// text is not one, or is negative.
  public static func parse(_ text: String) -> Duration? {
    let units: [(suffix: String, milliseconds: Int64)] = [("ms", 1), ("s", 1_000), ("m", 60_000), ("h", 3_600_000)]
    let unit = units.first { text.hasSuffix($0.suffix) } ?? ("", 1_000)
    guard let count = Int64(text.dropLast(unit.suffix.count)), count >= 0 else { return nil }
    let (milliseconds, overflow) = count.multipliedReportingOverflow(by: unit.milliseconds)
    return overflow ? nil : .milliseconds(milliseconds)
  }
}
