import ArbiterCore
import ArbiterFeatureStore
import Dispatch

/// What erasing a customer did.
public struct ErasureReport: Sendable {
  /// The erasure's id, as the audit log names it (the customer's id is written nowhere).
  public var erasureId: String
  /// Whether the store held a profile for the customer.
  public var profileRemoved: Bool
  /// Consent records removed.
  public var consentsRemoved: Int
  /// Lines of the interaction log made anonymous.
  public var logLinesAnonymised: Int
  /// Entries removed from the in-memory history.
  public var historyEntriesRemoved: Int
  /// The snapshot written without the customer, nil for a store without a directory.
  public var snapshot: SnapshotReport?
  /// What the other participants forgot, e.g. "1 queued call" (see ``ErasureParticipant``).
  public var othersForgotten: [String] = []
}

/// Erasure on request (the right to erasure): the customer leaves the store, its snapshot and
/// its log, and the interaction log keeps their decisions only anonymously.
extension LiveState {
  /// Registers a part of the server that holds customers' data in memory, to be told of every
  /// erasure (the contact centre's queued calls).
  public func addErasureParticipant(_ participant: any ErasureParticipant) {
    erasureParticipants.withLock { $0.append(participant) }
  }

  /// Erases `customerId`, in this order: the store wipes the profile and consents and logs the
  /// erasure (waited on until durable); a snapshot is written without the customer and the log
  /// segments before it, which held the customer's changes, are deleted; the interaction log's
  /// lines of the customer are made anonymous and their history forgotten; the registered
  /// participants forget what they hold of the customer. Runs the disk work
  /// on a Dispatch worker thread, never on the caller's.
  public func erase(customerId: UInt64, erasureId: String) async throws(ArbiterError) -> ErasureReport {
    guard customerId != 0 else { throw ArbiterError(.invalidArgument, "customer_id is required") }
    let store = snapshot.engine.customers
    let erased = store.erase(customerId: customerId)
    do { try await store.waitDurable(erased.lsn) } catch {
      throw ArbiterError(.failedPrecondition, "the erasure could not be made durable: \(error); retry it")
    }
    let log = self.log
    let others = erasureParticipants.withLock { $0 }.compactMap { participant -> String? in
      let count = participant.forget(customerId: customerId)
      return count == 0 ? nil : "\(count) \(participant.erasureNoun)\(count == 1 ? "" : "s")"
    }
    let result: Result<ErasureReport, ArbiterError> = await withCheckedContinuation { continuation in
      DispatchQueue.global().async {
        do throws(ArbiterError) {
          let snapshot = store.hasDirectory ? try store.writeSnapshot() : nil
          let (lines, entries) = try log.anonymise(customerId: customerId)
          continuation.resume(
            returning: .success(
              ErasureReport(
                erasureId: erasureId, profileRemoved: erased.profileRemoved, consentsRemoved: erased.consentsRemoved,
                logLinesAnonymised: lines, historyEntriesRemoved: entries, snapshot: snapshot)))
        } catch {
          continuation.resume(
            returning: .failure(
              ArbiterError(
                error.code,
                "the customer is erased from memory and the log, but \(error.message); retry the erasure to finish")))
        }
      }
    }
    var report = try result.get()
    report.othersForgotten = others
    return report
  }
}
