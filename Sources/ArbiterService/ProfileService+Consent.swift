import ArbiterAPI
import ArbiterCore
import ArbiterFeatureStore
import Foundation
import GRPCCore

/// Consents: recorded through the API, shown in the profile.
extension ProfileService {
  /// `RecordConsents`: records consents given or withdrawn, answering once they are durable.
  public func recordConsents(
    request: Arbiter_V1_RecordConsentsRequest, context: ServerContext
  ) async throws -> Arbiter_V1_RecordConsentsResponse {
    do { return try await recordConsents(request) } catch { throw RPCError(error) }
  }

  /// RecordConsents without a transport. A change malformed on the wire (no customer, channel,
  /// purpose or state, a bad source or time) refuses the whole request, naming the change and its
  /// field; changes the store refuses (an unknown customer, a consent older than the one
  /// recorded) are counted and named in the answer, and the rest recorded.
  package func recordConsents(
    _ request: Arbiter_V1_RecordConsentsRequest
  ) async throws(ArbiterError) -> Arbiter_V1_RecordConsentsResponse {
    guard !request.changes.isEmpty else {
      throw ArbiterError(.invalidArgument, "changes: at least one consent change is required")
    }
    guard request.changes.count <= ConsentBatches.maxChanges else {
      throw ArbiterError(
        .invalidArgument, "changes: at most \(ConsentBatches.maxChanges) per request, got \(request.changes.count)")
    }
    let store = live.snapshot.engine.customers
    let now = Int64(Date().timeIntervalSince1970 * 1_000)
    var changes: [ConsentChange] = []
    changes.reserveCapacity(request.changes.count)
    for (position, change) in request.changes.enumerated() {
      changes.append(try ConsentChange(proto: change, field: "changes[\(position)]", nowMillis: now))
    }
    let result = store.recordConsents(changes)
    do { try await store.waitDurable(result.lsn) } catch {
      throw ArbiterError(.failedPrecondition, "the consents could not be made durable: \(error)")
    }
    return .with {
      $0.recorded = UInt32(result.recorded)
      $0.rejected = UInt32(result.rejected)
      $0.errors = result.errors
    }
  }

  /// The profile's consents: every recorded one, then each channel without a recorded marketing
  /// consent as not consented.
  static func consents(of customerId: UInt64, in store: FeatureStore) -> [Arbiter_V1_Consent] {
    let recorded = store.consentRecords(of: customerId)
    var consents = recorded.map(\.proto)
    for channel in Channel.allCases
    where !recorded.contains(where: { $0.channel == channel && $0.purpose == .marketing }) {
      consents.append(
        .with {
          $0.channel = channel.proto
          $0.purpose = .marketing
          $0.state = .unspecified
          $0.granted = false
        })
    }
    return consents
  }
}

/// How consent changes travel in batches.
package enum ConsentBatches {
  /// The most changes one RecordConsents may carry.
  package static let maxChanges = 100_000
}
