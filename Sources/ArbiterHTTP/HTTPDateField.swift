import Foundation

/// The `Date` header's value (RFC 9110's IMF-fixdate, e.g. `Tue, 01 Dec 2026 13:35:26 GMT`), made
/// again only when the second changes: one per connection, on its event loop.
package struct HTTPDateField {
  private var second = -1
  private var text = ""

  private static let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
  private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

  /// The value for now.
  mutating func now() -> String {
    let seconds = time(nil)
    if seconds != second {
      second = seconds
      text = Self.format(secondsSinceEpoch: seconds)
    }
    return text
  }

  /// The value for a moment, in whole seconds since the epoch.
  package static func format(secondsSinceEpoch seconds: Int) -> String {
    var clock = seconds
    var parts = tm()
    gmtime_r(&clock, &parts)
    func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
    return "\(days[Int(parts.tm_wday)]), \(two(parts.tm_mday)) \(months[Int(parts.tm_mon)]) \(1900 + parts.tm_year) "
      + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) GMT"
  }
}
