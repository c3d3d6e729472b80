import ArbiterCore

/// What erasing a customer removed from the store.
public struct ErasureResult: Sendable {
  /// Whether the store held a profile for the customer.
  public var profileRemoved = false
  /// How many consent records were removed.
  public var consentsRemoved = 0
  /// Log position to wait for before acknowledging.
  public var lsn: UInt64 = 0
}

/// Erasure on request: a customer's row is wiped (every value missing, no name), their id leaves
/// the index and their consents the ledger. The erasure is logged like any change; the next
/// snapshot holds nothing of the customer, and the compaction that follows it deletes the log
/// segments that did (see ``writeSnapshot()``).
extension FeatureStore {
  /// Erases `customerId` from memory and logs the erasure; erasing a customer the store does not
  /// hold is logged too (and removes nothing).
  public func erase(customerId: UInt64) -> ErasureResult {
    writer.withLock { state -> ErasureResult in
      var log = beginRecord(LogRecords.erasures, &state)
      let (removed, consents) = applyErasure(of: customerId, lsn: state.nextLSN)
      log.put(customerId)
      let lsn = finishRecord(&log, entries: 1, logged: true, &state)
      return ErasureResult(profileRemoved: removed, consentsRemoved: consents, lsn: lsn)
    }
  }

  /// Wipes the customer's row at `lsn`, retires their id and removes their consents; returns
  /// whether there was a row and how many consents. Writer only.
  @discardableResult
  func applyErasure(of customerId: UInt64, lsn: UInt64) -> (profileRemoved: Bool, consentsRemoved: Int) {
    let row = row(of: customerId)
    let consents = consentLedger.remove(customerId: customerId, row: row)
    guard let row else { return (false, consents) }
    let width = self.width
    segments.write(row, lsn: lsn) { values in values.update(repeating: .nan, count: width) }
    segments.nameRef(row).store(NameArena.none, ordering: .releasing)
    currentIndex().retire(customerId)
    erasedRows.wrappingIncrement(ordering: .relaxed)
    indexHoldsErasedIds.store(true, ordering: .relaxed)
    return (true, consents)
  }
}
