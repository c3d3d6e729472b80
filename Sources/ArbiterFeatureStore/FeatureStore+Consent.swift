import ArbiterCore

/// Outcome of recording a batch of consents.
public struct ConsentResult: Sendable {
  /// How many changes were recorded.
  public var recorded = 0
  /// How many were refused (unknown customer, unrecorded state, bad source, a time in the future
  /// or older than the consent already recorded); see ``errors``.
  public var rejected = 0
  /// The first ten rejections, each naming the change's position, the customer and the problem.
  public var errors: [String] = []
  /// Log position to wait for before acknowledging; 0 when nothing was recorded.
  public var lsn: UInt64 = 0
}

/// Consents: given or withdrawn per customer, channel and purpose, logged like every other
/// change, kept in snapshots, and read by decisions without a lock.
extension FeatureStore {
  /// The consents of the customer at `row`; lock-free and allocation-free.
  @inline(__always)
  public func consents(row: Int) -> ConsentSet { consentLedger.consents(row: row) }

  /// The customer's recorded consents, in channel then purpose order.
  public func consentRecords(of customerId: UInt64) -> [ConsentRecord] { consentLedger.records(of: customerId) }

  /// How many consent records the store holds.
  public var consentRecordCount: Int { consentLedger.count }

  /// Records consents given or withdrawn. A change is refused when its customer is not in the
  /// store, its state is not given or withdrawn, its source is empty, too long or has control
  /// characters, its time is before 1970 or more than ``maxEventSkew`` ahead of the server clock,
  /// or it is older than the consent already recorded for the same channel and purpose (a late
  /// copy must not undo a newer withdrawal). The rest are applied and logged (unless `logged` is
  /// false: bulk seeding of a store that ends with a snapshot or is never reopened).
  public func recordConsents(_ changes: [ConsentChange], logged: Bool = true) -> ConsentResult {
    let latest = latestEventMillis()
    return writer.withLock { state -> ConsentResult in
      var result = ConsentResult()
      var log = beginRecord(LogRecords.consents, &state)
      var accepted: UInt32 = 0
      for (position, change) in changes.enumerated() {
        let record = change.record
        let problem = consentProblem(change, latest: latest)
        guard problem == nil, let row = row(of: change.customerId) else {
          result.rejected += 1
          if result.errors.count < 10 {
            let why = problem ?? "customer \(change.customerId) not found"
            result.errors.append("changes[\(position)] (customer \(change.customerId)): \(why)")
          }
          continue
        }
        consentLedger.apply(record, customerId: change.customerId, row: row)
        accepted += 1
        guard logged else { continue }
        log.put(change.customerId)
        log.put(record)
      }
      result.recorded = Int(accepted)
      guard accepted > 0 else { return result }
      result.lsn = finishRecord(&log, entries: accepted, logged: logged, &state)
      return result
    }
  }

  /// Why a consent change is refused, nil when it is accepted (the customer's presence aside).
  private func consentProblem(_ change: ConsentChange, latest: Double) -> String? {
    let record = change.record
    if record.state == .unrecorded { return "state must be given or withdrawn" }
    if let problem = ConsentRecord.sourceProblem(record.source) { return problem }
    if let problem = consentLedger.problem(with: record) { return problem }
    if let problem = eventTimeProblem(millis: record.timestampMillis, latest: latest) {
      return "consent time \(record.timestampMillis) ms \(problem)"
    }
    if let existing = consentLedger.record(of: change.customerId, record.channel, record.purpose),
      existing.timestampMillis > record.timestampMillis
    {
      return "\(record.purpose) consent on \(record.channel) at \(record.timestampMillis) ms is older than the one "
        + "recorded (\(existing.state) at \(existing.timestampMillis) ms)"
    }
    return nil
  }
}
