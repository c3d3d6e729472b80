import ArbiterAPI
import ArbiterAccess
import ArbiterCore
import ArbiterDecisioning
import ArbiterObservability
import ArbiterService
import Dispatch
import GRPCCore
import Logging
import SwiftProtobuf

/// The methods served over the lean protocol, by their gRPC path: the same services and messages
/// as gRPC, keyed by the generated method descriptors. The hot ones run inline on the
/// connection's event loop (no hop to another thread), none of them touching the disk; the others
/// run on a Dispatch worker or the Swift concurrency pool.
package struct LeanMethodTable: Sendable {
  /// Asked once a method's work is done and before anything is committed: whether its answer
  /// is still wanted (the deadline has not passed).
  package typealias StillWanted = () -> Bool

  /// How a method runs, and on which thread.
  package enum Method: Sendable {
    /// On the connection's event loop, told the call's deadline (uptime nanoseconds, `.max` for
    /// none) and asking whether it is still wanted.
    case inline(@Sendable ([UInt8], UInt64, StillWanted) throws(ArbiterError) -> [UInt8])
    /// `Decide`, on the connection's event loop: the decision is encoded straight into the
    /// connection's output (see ``DecideResponseWriter``), with no message or byte array between.
    case decide(@Sendable ([UInt8], UInt64, StillWanted) throws(ArbiterError) -> Decision)
    /// Slow but synchronous (a reload, a campaign, a write that waits for the disk): on a
    /// Dispatch worker thread, told who called (for the audit log).
    case offloaded(@Sendable ([UInt8], Principal?) throws(ArbiterError) -> [UInt8])
    /// Asynchronous (waits for durability): on the Swift concurrency pool.
    case pooled(@Sendable ([UInt8], Principal?) async throws -> [UInt8])
  }

  /// A method and the role a caller needs for it (nil: open to all).
  package struct Entry: Sendable {
    /// How it runs.
    package let method: Method
    /// The role it needs, as on every door (``MethodRoles``).
    package let role: Role?
    /// Whether its refused attempts go to the audit log (``MethodRoles/audited``).
    package let audited: Bool
    /// Where its requests are counted and timed, if metrics are kept.
    package let metrics: MethodMetrics?
  }

  private let methods: [String: Entry]
  /// Where admin actions and refused attempts at them are written.
  package let audit: AuditLog?

  /// A table serving each method under its descriptor's path (see ``path(of:)``), each needing
  /// the role ``MethodRoles`` gives it; refused attempts at audited methods go to `audit`.
  /// Requests are counted and timed in `metrics` (door `lean`).
  package init(_ methods: [MethodDescriptor: Method], audit: AuditLog? = nil, metrics: RequestMetrics? = nil) {
    var table: [String: Entry] = [:]
    for (descriptor, method) in methods {
      table[Self.path(of: descriptor)] = Entry(
        method: method, role: MethodRoles.role(for: descriptor), audited: MethodRoles.audited.contains(descriptor),
        metrics: metrics?.method(door: "lean", method: descriptor.fullyQualifiedMethod))
    }
    self.methods = table
    self.audit = audit
  }

  /// The path a lean request names a method by: gRPC's, "/" and the fully qualified method
  /// (e.g. "/arbiter.v1.DecisionService/Decide").
  package static func path(of descriptor: MethodDescriptor) -> String { "/" + descriptor.fullyQualifiedMethod }

  /// The method served at `path` and its role, or nil.
  package subscript(path: String) -> Entry? { methods[path] }

  /// Arbiter's unary methods over `live`; `echoResponse` is the no-op baseline's answer.
  package init(
    live: LiveState, logger: Logger, echoResponse: [UInt8], audit: AuditLog? = nil, metrics: RequestMetrics? = nil
  ) {
    let decisions = DecisionService(live: live)
    let profiles = ProfileService(live: live)
    let admin = AdminService(live: live, logger: logger, audit: audit)
    typealias Decisions = Arbiter_V1_DecisionService.Method
    typealias Profiles = Arbiter_V1_ProfileService.Method
    typealias Admin = Arbiter_V1_AdminService.Method
    let methods: [MethodDescriptor: Method] = [
      Decisions.Decide.descriptor: .decide { bytes, deadline, stillWanted throws(ArbiterError) in
        let started = DispatchTime.now().uptimeNanoseconds
        let decision = try decisions.decision(
          for: try Self.decode(Arbiter_V1_DecideRequest.self, bytes), deadline: deadline, stillWanted: stillWanted)
        live.traffic.record(.lean, since: started)
        return decision
      },
      Decisions.Personalize.descriptor: .inline { bytes, deadline, stillWanted throws(ArbiterError) in
        let started = DispatchTime.now().uptimeNanoseconds
        let request = try Self.decode(Arbiter_V1_PersonalizeRequest.self, bytes)
        let response = try Self.encode(
          try decisions.personalize(request, deadline: deadline, stillWanted: stillWanted))
        live.traffic.record(.lean, since: started)
        return response
      },
      // Offloaded: it waits for its lines to be written, which no event-loop thread may do.
      Decisions.RecordOutcomes.descriptor: .offloaded { bytes, _ throws(ArbiterError) in
        try Self.encode(try decisions.recordOutcomes(try Self.decode(Arbiter_V1_RecordOutcomesRequest.self, bytes)))
      },
      Decisions.SelectOutbound.descriptor: .offloaded { bytes, _ throws(ArbiterError) in
        try Self.encode(try decisions.selectOutbound(try Self.decode(Arbiter_V1_SelectOutboundRequest.self, bytes)))
      },
      Profiles.GetProfile.descriptor: .inline { bytes, _, _ throws(ArbiterError) in
        try Self.encode(try profiles.profile(try Self.decode(Arbiter_V1_GetProfileRequest.self, bytes)))
      },
      Profiles.UpsertProfiles.descriptor: .pooled { bytes, _ in
        let request = try Self.decode(Arbiter_V1_UpsertProfilesRequest.self, bytes)
        let context = Self.context(Profiles.UpsertProfiles.descriptor)
        return try Self.encode(try await profiles.upsertProfiles(request: request, context: context))
      },
      Profiles.RecordConsents.descriptor: .pooled { bytes, _ in
        let request = try Self.decode(Arbiter_V1_RecordConsentsRequest.self, bytes)
        return try Self.encode(try await profiles.recordConsents(request))
      },
      Admin.GetStatus.descriptor: .offloaded { bytes, _ throws(ArbiterError) in
        _ = try Self.decode(Arbiter_V1_GetStatusRequest.self, bytes)
        return try Self.encode(admin.status())
      },
      Admin.Reload.descriptor: .offloaded { bytes, principal throws(ArbiterError) in
        let request = try Self.decode(Arbiter_V1_ReloadRequest.self, bytes)
        return try Self.encode(
          try admin.audited(Admin.Reload.descriptor, target: request.bundlePath, by: principal, door: "lean") {
            () throws(ArbiterError) in try admin.reload(request)
          })
      },
      Admin.EraseCustomer.descriptor: .pooled { bytes, principal in
        let request = try Self.decode(Arbiter_V1_EraseCustomerRequest.self, bytes)
        return try Self.encode(try await admin.erase(request, by: principal, door: "lean"))
      },
      Admin.SetChallenger.descriptor: .offloaded { bytes, principal throws(ArbiterError) in
        let request = try Self.decode(Arbiter_V1_SetChallengerRequest.self, bytes)
        return try Self.encode(
          try admin.audited(Admin.SetChallenger.descriptor, target: request.bundlePath, by: principal, door: "lean") {
            () throws(ArbiterError) in try admin.setChallenger(request)
          })
      },
      Admin.Promote.descriptor: .offloaded { bytes, principal throws(ArbiterError) in
        let request = try Self.decode(Arbiter_V1_PromoteRequest.self, bytes)
        return try Self.encode(
          try admin.audited(Admin.Promote.descriptor, target: admin.challengerTarget(request), by: principal, door: "lean") {
            () throws(ArbiterError) in try admin.promote(request)
          })
      },
      Admin.ResetAdaptive.descriptor: .offloaded { bytes, principal throws(ArbiterError) in
        _ = try Self.decode(Arbiter_V1_ResetAdaptiveRequest.self, bytes)
        return try Self.encode(
          try admin.audited(Admin.ResetAdaptive.descriptor, target: "adaptive models", by: principal, door: "lean") {
            () throws(ArbiterError) in try admin.resetAdaptive()
          })
      },
      // The no-op baseline: decodes the request, returns a decision made at start (same sizes, no work).
      Arbiter_V1_BenchmarkService.Method.Echo.descriptor: .inline { bytes, _, _ throws(ArbiterError) in
        _ = try Self.decode(Arbiter_V1_DecideRequest.self, bytes)
        return echoResponse
      },
    ]
    self.init(methods, audit: audit, metrics: metrics)
  }

  @Sendable static func decode<M: Message>(_ type: M.Type, _ bytes: [UInt8]) throws(ArbiterError) -> M {
    do { return try M(serializedBytes: bytes) } catch {
      throw ArbiterError(.invalidArgument, "malformed \(M.protoMessageName): \(error)")
    }
  }

  @Sendable static func encode(_ message: some Message) throws(ArbiterError) -> [UInt8] {
    do { return try message.serializedBytes() } catch {
      throw ArbiterError(.internalError, "cannot encode \(type(of: message).protoMessageName): \(error)")
    }
  }

  /// The context a gRPC service method is given, for a lean call of `descriptor`.
  @Sendable static func context(_ descriptor: MethodDescriptor) -> ServerContext {
    ServerContext(
      descriptor: descriptor, remotePeer: "lean", localPeer: "lean",
      cancellation: ServerContext.RPCCancellationHandle())
  }
}
