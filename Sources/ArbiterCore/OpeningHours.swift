import Foundation

/// When a channel staffed by people (the contact centre, branches) is open: weekly periods in
/// its time zone, e.g. Monday to Friday 08:00–20:00 and Saturday 09:00–17:00 in Europe/London.
/// Offers fulfilled by the channel (a call-back) are made only while it is open.
public struct OpeningHours: Codable, Sendable, Hashable {
  /// The channel the hours are for.
  public var channel: Channel
  /// An IANA time zone name, e.g. "Europe/London"; the periods are local times there.
  public var timeZone: String
  /// The weekly periods.
  public var periods: [OpeningPeriod]

  /// Hours for `channel` in `timeZone`.
  public init(channel: Channel, timeZone: String, periods: [OpeningPeriod]) {
    self.channel = channel
    self.timeZone = timeZone
    self.periods = periods
  }
}

/// Days of the week and a time range on each of them.
public struct OpeningPeriod: Codable, Sendable, Hashable {
  /// "mon-fri", "sat", "mon,wed,fri" or "daily".
  public var days: String
  /// Opening time, "HH:MM" (24-hour).
  public var open: String
  /// Closing time, "HH:MM", after `open` ("24:00" for midnight).
  public var close: String

  /// A period from `open` to `close` on `days`.
  public init(days: String, open: String, close: String) {
    self.days = days
    self.open = open
    self.close = close
  }
}

/// Opening hours ready to ask: the time zone resolved and each weekday's open minutes.
public struct CompiledOpeningHours: Sendable {
  /// The channel the hours are for.
  public let channel: Channel
  /// The time zone the periods are in.
  public let timeZone: TimeZone
  /// Monday first: each day's open ranges in minutes after local midnight.
  public let week: [[Range<Int>]]
  /// The zone's UTC offsets from a year before compiling to ten years after, so that a decision
  /// asks no `TimeZone` (which takes ICU's locks, contended between event loops).
  let offsets: UTCOffsetTable

  static let dayNames = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]

  /// Checks and compiles `hours`; errors name the field (under `field`) at fault.
  public init(_ hours: OpeningHours, field: String) throws(ArbiterError) {
    guard let zone = TimeZone(identifier: hours.timeZone) else {
      throw ArbiterError(.invalidArgument, "\(field).timeZone: unknown time zone '\(hours.timeZone)'")
    }
    var week = [[Range<Int>]](repeating: [], count: 7)
    for (k, period) in hours.periods.enumerated() {
      let at = "\(field).periods[\(k)]"
      let days = try Self.days(period.days, field: at + ".days")
      guard let open = Self.minutes(period.open), let close = Self.minutes(period.close), open < close else {
        throw ArbiterError(
          .invalidArgument, "\(at): open '\(period.open)' and close '\(period.close)' must be HH:MM, open first")
      }
      for day in days { week[day].append(open..<close) }
    }
    channel = hours.channel
    timeZone = zone
    self.week = week
    offsets = UTCOffsetTable(zone, around: Date())
  }

  private static func minutes(_ text: String) -> Int? {
    let parts = text.split(separator: ":")
    guard parts.count == 2, parts[0].count == 2, parts[1].count == 2, let h = Int(parts[0]), let m = Int(parts[1]),
      (0...24).contains(h), (0...59).contains(m), h < 24 || m == 0
    else { return nil }
    return h * 60 + m
  }

  private static func days(_ text: String, field: String) throws(ArbiterError) -> [Int] {
    if text == "daily" { return Array(0..<7) }
    var result: [Int] = []
    for part in text.split(separator: ",") {
      let ends = part.split(separator: "-").map(String.init)
      guard (1...2).contains(ends.count), let first = dayNames.firstIndex(of: ends[0]),
        let last = dayNames.firstIndex(of: ends[ends.count - 1]), first <= last
      else {
        throw ArbiterError(
          .invalidArgument, "\(field): '\(text)' is not days like 'mon-fri', 'sat', 'mon,wed' or 'daily'")
      }
      result += Array(first...last)
    }
    return result
  }

  /// The local weekday (Monday 0) and minute of the day at `millis` since the epoch.
  public func localTime(atMillis millis: Int64) -> (weekday: Int, minute: Int) {
    let offsetSeconds =
      offsets.seconds(atMillis: millis)
      ?? timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(millis) / 1000))
    let local = Int64(floor(Double(millis) / 60_000)) + Int64(offsetSeconds / 60)
    let day = Int(local.floorDivided(by: 1_440))
    // 1970-01-01 was a Thursday (3 with Monday 0).
    return (((day + 3) % 7 + 7) % 7, Int(local - Int64(day) * 1_440))
  }

  /// Whether the channel is open at `millis`.
  public func isOpen(atMillis millis: Int64) -> Bool {
    let (weekday, minute) = localTime(atMillis: millis)
    return week[weekday].contains { $0.contains(minute) }
  }

  /// The day's hours as text, e.g. "08:00–20:00", or "closed".
  public func hoursText(atMillis millis: Int64) -> String {
    let ranges = week[localTime(atMillis: millis).weekday]
    guard !ranges.isEmpty else { return "closed" }
    func clock(_ m: Int) -> String { String(format: "%02d:%02d", m / 60, m % 60) }
    return ranges.map { "\(clock($0.lowerBound))–\(clock($0.upperBound))" }.joined(separator: ", ")
  }
}

extension Int64 {
  fileprivate func floorDivided(by divisor: Int64) -> Int64 {
    let q = self / divisor
    return (self % divisor != 0 && (self < 0) != (divisor < 0)) ? q - 1 : q
  }
}

/// A time zone's UTC offset over a span of years, as the offsets between its transitions:
/// a lookup is a search of a few dozen values, no lock and no allocation.
struct UTCOffsetTable: Sendable {
  /// From each start (milliseconds since the epoch, ascending), the offset in seconds until the next.
  private let starts: [Int64]
  private let seconds: [Int]
  /// The end of the span covered (the first start is its beginning).
  private let endMillis: Int64

  /// The offsets of `zone` from a year before `date` to ten years after.
  init(_ zone: TimeZone, around date: Date) {
    let first = date.addingTimeInterval(-366 * 86_400), last = date.addingTimeInterval(3_653 * 86_400)
    var starts = [Self.millis(first)], seconds = [zone.secondsFromGMT(for: first)]
    var at = first
    while let next = zone.nextDaylightSavingTimeTransition(after: at), next < last, starts.count < 1_000 {
      starts.append(Self.millis(next))
      seconds.append(zone.secondsFromGMT(for: next))
      at = next
    }
    self.starts = starts
    self.seconds = seconds
    endMillis = Self.millis(last)
  }

  /// The offset at `millis`, or nil outside the span.
  func seconds(atMillis millis: Int64) -> Int? {
    guard let first = starts.first, millis >= first, millis < endMillis else { return nil }
    var low = 0, high = starts.count  // the last start <= millis is in low..<high
    while high - low > 1 {
      let middle = (low + high) / 2
      if starts[middle] <= millis { low = middle } else { high = middle }
    }
    return seconds[low]
  }

  private static func millis(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1000).rounded(.down)) }
}

