import Foundation

/// Consents from a CSV file (a CRM's or a preference centre's export), one change a row:
///
/// | column | required | content |
/// |---|---|---|
/// | `customer_id` | yes | the customer (a positive whole number) |
/// | `channel` | yes | `web`, `mobile-app`, `contact-centre`, `branch`, `atm`, `email`, `sms` |
/// | `purpose` | yes | `marketing`, `service` or `profiling` |
/// | `state` | yes | `given` or `withdrawn` |
/// | `timestamp` | no | when: ISO 8601 (`2026-12-01T09:30:00Z`) or milliseconds since 1970; empty: the import's time |
/// | `source` | no | where it was given; empty: the file's default (`csv:<file name>`) |
///
/// Every problem is refused naming the file, line and column, before anything is sent.
public enum ConsentCSV {
  /// The columns a file must have.
  public static let requiredColumns = ["customer_id", "channel", "purpose", "state"]

  /// The changes in `table`; `file` names it in errors, `defaultSource` is used where a row
  /// gives none, `nowMillis` where it gives no time.
  public static func changes(
    in table: CSVTable, file: String, defaultSource: String, nowMillis: Int64
  ) throws(ArbiterError) -> [ConsentChange] {
    func column(_ name: String) -> Int? { table.header.firstIndex { $0.trimmingCharacters(in: .whitespaces) == name } }
    var required: [Int] = []
    for name in requiredColumns {
      guard let index = column(name) else {
        throw ArbiterError(
          .invalidArgument,
          "\(file): no '\(name)' column (the header must name \(requiredColumns.joined(separator: ", ")); "
            + "timestamp and source are optional)")
      }
      required.append(index)
    }
    let timestampColumn = column("timestamp"), sourceColumn = column("source")
    var changes: [ConsentChange] = []
    changes.reserveCapacity(table.rows.count)
    for (position, row) in table.rows.enumerated() {
      let at = "\(file):\(table.lineNumbers[position])"
      func field(_ index: Int) -> String { row[index].trimmingCharacters(in: .whitespaces) }
      let id = field(required[0]), channelName = field(required[1]), purposeName = field(required[2])
      let stateName = field(required[3])
      guard let customerId = UInt64(id), customerId > 0 else {
        throw ArbiterError(.invalidArgument, "\(at): customer_id '\(id)' is not a customer id")
      }
      guard let channel = Channel(name: channelName) else {
        throw ArbiterError(
          .invalidArgument,
          "\(at): channel '\(channelName)' is not one of \(Channel.allCases.map(\.name).joined(separator: ", "))")
      }
      guard let purpose = ConsentPurpose(name: purposeName) else {
        throw ArbiterError(.invalidArgument, "\(at): purpose '\(purposeName)' is not marketing, service or profiling")
      }
      guard let state = ConsentState(name: stateName) else {
        throw ArbiterError(.invalidArgument, "\(at): state '\(stateName)' is not given or withdrawn")
      }
      let millis = try timestampColumn.map { index throws(ArbiterError) in
        try timestamp(field(index), at: at, nowMillis: nowMillis)
      } ?? nowMillis
      let given = sourceColumn.map(field) ?? ""
      let source = given.isEmpty ? defaultSource : given
      if let problem = ConsentRecord.sourceProblem(source) { throw ArbiterError(.invalidArgument, "\(at): \(problem)") }
      changes.append(
        ConsentChange(
          customerId: customerId,
          record: ConsentRecord(
            channel: channel, purpose: purpose, state: state, timestampMillis: millis, source: source)))
    }
    return changes
  }

  /// A timestamp field: empty (now), milliseconds since 1970, or ISO 8601 with a time zone.
  static func timestamp(_ text: String, at: String, nowMillis: Int64) throws(ArbiterError) -> Int64 {
    if text.isEmpty { return nowMillis }
    if let millis = Int64(text), millis >= 0 { return millis }
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime]
    if let date = formatter.date(from: text) { return Int64(date.timeIntervalSince1970 * 1_000) }
    formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    if let date = formatter.date(from: text) { return Int64(date.timeIntervalSince1970 * 1_000) }
    throw ArbiterError(
      .invalidArgument,
      "\(at): timestamp '\(text)' is neither ISO 8601 with a zone (2026-12-01T09:30:00Z) nor milliseconds since 1970")
  }
}
