import ArbiterCore
import Foundation

/// The decisions an interaction log holds, with what followed each: the offers made (with the
/// probability each was drawn with), the features the models saw, the challenger's shadow
/// decision when there was one, and each offer's settled outcome — accepted or converted within
/// the window is positive, declined is negative. Read by ``LoggedExamples`` (training) and by
/// off-policy evaluation.
public struct LoggedDecisions: Sendable {
  /// One offer as a decision line logged it.
  public struct Shown: Sendable, Hashable {
    public var offerId: String
    /// The probability it was drawn with at its position.
    public var probability: Double
    /// Its value in the catalogue's currency.
    public var value: Double
  }

  /// One logged decision.
  public struct Entry: Sendable {
    public var decisionId: String
    public var timestampMillis: Int64
    public var customerId: UInt64
    /// The channel's name ("" when the line has none).
    public var channel: String
    /// The bundle that decided, as "name/version".
    public var bundle: String
    /// The exploration method ("outbound" for a campaign's selection).
    public var exploration: String
    /// The customer's then the context's feature values; nil when the line has none (logged
    /// before features were).
    public var features: [Float]?
    /// The offers made, best first.
    public var shown: [Shown]
    /// The offers held out for their control group.
    public var heldOut: [String]
    /// The challenger's offers for the same request, when it decided in the shadow.
    public var shadow: [Shown]?
    /// The challenger's bundle, as "name/version", when it decided in the shadow.
    public var shadowBundle: String?
    /// Per offer: true once accepted or converted within the window, false once declined (and not accepted).
    public var settled: [String: Bool] = [:]
    /// Per offer: the value the outcome reported, when it reported one.
    public var reportedValue: [String: Double] = [:]
  }

  /// The decisions in log order.
  public var entries: [Entry] = []
  /// The latest time any line carries, in milliseconds since the epoch.
  public var latestMillis: Int64 = 0
  /// Impressions reported.
  public var impressions = 0
  /// Shadow decisions read.
  public var shadowDecisions = 0
  /// Outcomes for decisions the log does not have, each naming its file and line.
  public var unknownOutcomes: [String] = []

  /// Whether an entry's window has closed by the end of the log (a missing outcome is then a no).
  public func isSettled(_ entry: Entry, window: Duration) -> Bool {
    entry.timestampMillis + Self.millis(window) <= latestMillis
  }

  static func millis(_ window: Duration) -> Int64 { Int64(window.components.seconds * 1_000) }

  /// Reads the log files in order. Refuses, naming the file and line: a line that is not JSON of
  /// the log's shape, and features that do not decode.
  public static func read(paths: [String], window: Duration) throws(ArbiterError) -> LoggedDecisions {
    var result = LoggedDecisions()
    var reading = Reading(window: window)
    for path in paths {
      let text: String
      do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
        throw ArbiterError(.notFound, "\(path): cannot be read (\(error.localizedDescription))")
      }
      try reading.read(text[...], file: (path as NSString).lastPathComponent, firstLine: 1, into: &result)
    }
    return result
  }

  /// Reads the last `bytes` bytes of a log file (from the first whole line in them): the recent
  /// traffic, for a decision that must not read a log of any size. Outcomes of decisions before
  /// that are in ``unknownOutcomes``.
  public static func readTail(path: String, bytes: Int, window: Duration) throws(ArbiterError) -> LoggedDecisions {
    guard let handle = FileHandle(forReadingAtPath: path) else {
      throw ArbiterError(.notFound, "\(path): cannot be read")
    }
    defer { try? handle.close() }
    let size: UInt64
    let data: Data
    do {
      size = try handle.seekToEnd()
      let start = size > UInt64(bytes) ? size - UInt64(bytes) : 0
      try handle.seek(toOffset: start)
      data = try handle.readToEnd() ?? Data()
    } catch {
      throw ArbiterError(.notFound, "\(path): cannot be read (\(error.localizedDescription))")
    }
    var text = Substring(decoding: data, as: UTF8.self)
    if size > UInt64(bytes) {
      // Starting inside a line: from the next one.
      guard let newline = text.firstIndex(of: "\n") else { return LoggedDecisions() }
      text = text[text.index(after: newline)...]
    }
    var result = LoggedDecisions()
    var reading = Reading(window: window)
    try reading.read(
      text, file: (path as NSString).lastPathComponent + " (its last \(bytes) bytes)", firstLine: 1, into: &result)
    return result
  }

  /// The state of reading lines: where each decision is, by id.
  struct Reading {
    let windowMillis: Int64
    var position: [String: Int] = [:]

    init(window: Duration) { windowMillis = LoggedDecisions.millis(window) }

    mutating func read(
      _ text: Substring, file: String, firstLine: Int, into result: inout LoggedDecisions
    ) throws(ArbiterError) {
      for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
      where !line.isEmpty {
        let at = "\(file):\(index + firstLine)"
        guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
          let type = object["type"] as? String
        else { throw ArbiterError(.invalidArgument, "\(at): not a line of an interaction log") }
        let ts = (object["ts"] as? NSNumber)?.int64Value ?? 0
        result.latestMillis = max(result.latestMillis, ts)
        switch type {
        case "decision":
          let entry = try LoggedDecisions.decision(object, at: at, timestampMillis: ts)
          position[entry.decisionId] = result.entries.count
          result.entries.append(entry)
        case "shadow":
          result.shadowDecisions += 1
          if let id = object["decision_id"] as? String, let k = position[id] {
            result.entries[k].shadow = LoggedDecisions.shown(object["offers"] as? [[String: Any]] ?? [])
            result.entries[k].shadowBundle = object["bundle"] as? String
          }
        case "outcome":
          try outcome(object, at: at, timestampMillis: ts, into: &result)
        default:
          continue
        }
      }
    }

    private func outcome(
      _ object: [String: Any], at: String, timestampMillis ts: Int64, into result: inout LoggedDecisions
    ) throws(ArbiterError) {
      guard let id = object["decision_id"] as? String, let offerId = object["offer_id"] as? String,
        let outcome = object["outcome"] as? String
      else { throw ArbiterError(.invalidArgument, "\(at): an outcome without decision_id, offer_id or outcome") }
      guard let k = position[id] else {
        result.unknownOutcomes.append("\(at): outcome '\(outcome)' for decision '\(id)', which the log does not have")
        return
      }
      if outcome == "impression" { result.impressions += 1 }
      guard ts <= result.entries[k].timestampMillis + windowMillis else { return }
      switch outcome {
      case "accept", "convert":
        result.entries[k].settled[offerId] = true
        if let value = (object["value"] as? NSNumber)?.doubleValue { result.entries[k].reportedValue[offerId] = value }
      case "decline":
        if result.entries[k].settled[offerId] != true { result.entries[k].settled[offerId] = false }
      default: break
      }
    }
  }

  fileprivate static func decision(
    _ object: [String: Any], at: String, timestampMillis: Int64
  ) throws(ArbiterError) -> Entry {
    guard let id = object["decision_id"] as? String, let offers = object["offers"] as? [[String: Any]] else {
      throw ArbiterError(.invalidArgument, "\(at): a decision without decision_id or offers")
    }
    var features: [Float]?
    if let encoded = object["features"] as? String {
      guard let decoded = floats(base64: encoded) else {
        throw ArbiterError(.invalidArgument, "\(at): decision \(id): features are not base64 of float32s")
      }
      features = decoded
    }
    let held = (object["control"] as? [[String: Any]] ?? []).compactMap { $0["offer_id"] as? String }
    return Entry(
      decisionId: id, timestampMillis: timestampMillis,
      customerId: (object["customer_id"] as? NSNumber)?.uint64Value ?? 0,
      channel: object["channel"] as? String ?? "", bundle: object["bundle"] as? String ?? "",
      exploration: object["exploration"] as? String ?? "", features: features,
      shown: shown(offers), heldOut: held)
  }

  fileprivate static func shown(_ offers: [[String: Any]]) -> [Shown] {
    offers.compactMap { offer -> Shown? in
      guard let offerId = offer["offer_id"] as? String else { return nil }
      return Shown(
        offerId: offerId, probability: (offer["probability"] as? NSNumber)?.doubleValue ?? 1,
        value: (offer["value"] as? NSNumber)?.doubleValue ?? 0)
    }
  }

  /// Float32s from base64 of their little-endian bits; nil when it is not that.
  static func floats(base64 text: String) -> [Float]? {
    guard let data = Data(base64Encoded: text), data.count % 4 == 0 else { return nil }
    return data.withUnsafeBytes { raw in
      (0..<(data.count / 4)).map {
        Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self)))
      }
    }
  }
}
