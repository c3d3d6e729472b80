import ArbiterAPI
import ArbiterCore
import ArbiterDecisioning
import ArbiterObservability
import Foundation
import GRPCCore

/// `arbiter.v1.DecisionService`: validates requests, maps them to the decision engine and maps
/// the results (and errors) back.
public struct DecisionService: Arbiter_V1_DecisionService.SimpleServiceProtocol {
  let live: LiveState

  /// The decision service over the live state.
  public init(live: LiveState) { self.live = live }

  /// `Decide`: one customer, one channel (the gRPC door serves it through
  /// ``DecisionServiceRegistration``, which encodes the decision directly; both go through
  /// ``decision(for:context:)``).
  public func decide(
    request: Arbiter_V1_DecideRequest, context: ServerContext
  ) async throws -> Arbiter_V1_DecideResponse {
    try decision(for: request, context: context).proto
  }

  /// A gRPC call's decision: bounded by the call's deadline (``CallDeadline/current``), none
  /// made when the call is cancelled meanwhile, its id added to the call's span, counted as
  /// gRPC traffic.
  package func decision(for request: Arbiter_V1_DecideRequest, context: ServerContext) throws -> Decision {
    let started = DispatchTime.now().uptimeNanoseconds
    let deadline = CallDeadline.current
    let made = try mappingErrors { () throws(ArbiterError) -> Decision in
      try decision(for: request, deadline: deadline) { !context.cancellation.isCancelled }
    }
    RequestSpan.record(decisionId: made.decisionId, fallback: made.fallback, on: RequestSpan.current)
    live.traffic.record(.grpc, since: started)
    return made
  }

  /// The decision itself, for a transport that encodes it (see ``DecideResponseWriter``), for a
  /// call to be answered by `deadline` (uptime nanoseconds; `.max` for none), which bounds the
  /// decision's budget. `stillWanted` is asked once it is made (see
  /// ``LiveState/decide(_:stillWanted:)``).
  package func decision(
    for request: Arbiter_V1_DecideRequest, deadline: UInt64 = .max, stillWanted: () -> Bool = { true }
  ) throws(ArbiterError) -> Decision {
    var domain = try DecisionRequest(proto: request)
    domain.deadline = CallDeadline.decisionDeadline(answeringBy: deadline)
    return try live.decide(domain, stillWanted: stillWanted)
  }

  /// `Personalize`: the slots of a page, for a known customer or an anonymous visitor.
  public func personalize(
    request: Arbiter_V1_PersonalizeRequest, context: ServerContext
  ) async throws -> Arbiter_V1_PersonalizeResponse {
    let started = DispatchTime.now().uptimeNanoseconds
    let deadline = CallDeadline.current
    let response = try mappingErrors { () throws(ArbiterError) in
      let page = try personalize(request, deadline: deadline) { !context.cancellation.isCancelled }
      RequestSpan.record(decisionId: page.decisionID, fallback: page.fallback, on: RequestSpan.current)
      return page
    }
    live.traffic.record(.grpc, since: started)
    return response
  }

  /// Personalize without a transport; `deadline` and `stillWanted` as for
  /// ``decision(for:deadline:stillWanted:)``.
  package func personalize(
    _ request: Arbiter_V1_PersonalizeRequest, deadline: UInt64 = .max, stillWanted: () -> Bool = { true }
  ) throws(ArbiterError) -> Arbiter_V1_PersonalizeResponse {
    do {
      var domain = try DecisionRequest(proto: request)
      domain.deadline = CallDeadline.decisionDeadline(answeringBy: deadline)
      let (decision, placements) = try live.personalize(
        domain, slots: try SlotRequest.slots(proto: request.slots), stillWanted: stillWanted)
      return .with {
        $0.decisionID = decision.decisionId
        $0.requestID = decision.requestId
        $0.versions = decision.versions.proto
        $0.fallback = decision.fallback
        $0.items = placements.map { placement in
          .with {
            $0.slot = placement.slot
            $0.position = UInt32(placement.position)
            $0.offer = placement.offer.proto
          }
        }
      }
    }
  }

  /// `RecordOutcomes`: validates the batch (all or none) and answers once it is written.
  public func recordOutcomes(
    request: Arbiter_V1_RecordOutcomesRequest, context: ServerContext
  ) async throws -> Arbiter_V1_RecordOutcomesResponse {
    try mappingErrors { () throws(ArbiterError) in try recordOutcomes(request) }
  }

  package func recordOutcomes(
    _ request: Arbiter_V1_RecordOutcomesRequest
  ) throws(ArbiterError) -> Arbiter_V1_RecordOutcomesResponse {
    do {
      guard !request.outcomes.isEmpty else {
        throw ArbiterError(.invalidArgument, "outcomes: at least one outcome is required")
      }
      let limit = InteractionLog.maxOutcomesPerCall
      guard request.outcomes.count <= limit else {
        throw ArbiterError(.invalidArgument, "outcomes: at most \(limit) per request, got \(request.outcomes.count)")
      }
      let now = Int64(Date().timeIntervalSince1970 * 1000)
      var reports: [OutcomeReport] = []
      reports.reserveCapacity(request.outcomes.count)
      for (i, outcome) in request.outcomes.enumerated() {
        reports.append(
          try OutcomeReport(
            proto: outcome, field: "outcomes[\(i)]", now: now, maxSkewMillis: live.log.maxClockSkewMillis))
      }
      let recorded = try live.recordOutcomes(reports)
      return .with { $0.recorded = UInt32(recorded) }
    }
  }

  /// `SelectOutbound`: a campaign; committed when assignments are asked for, else a dry run.
  public func selectOutbound(
    request: Arbiter_V1_SelectOutboundRequest, context: ServerContext
  ) async throws -> Arbiter_V1_SelectOutboundResponse {
    try mappingErrors { () throws(ArbiterError) in try selectOutbound(request) }
  }

  /// SelectOutbound without a transport.
  package func selectOutbound(
    _ request: Arbiter_V1_SelectOutboundRequest
  ) throws(ArbiterError) -> Arbiter_V1_SelectOutboundResponse {
    do {
      guard request.requestID.unicodeScalars.count <= 128 else {
        throw ArbiterError(.invalidArgument, "request_id is longer than 128 characters")
      }
      let channel = try Channel(proto: request.channel)
      if request.hasBudget, !(request.budget.isFinite && request.budget >= 0) {
        throw ArbiterError(.invalidArgument, "budget must be a finite number >= 0")
      }
      let outbound = OutboundRequest(
        channel: channel, customerIds: request.customerIds, budget: request.hasBudget ? request.budget : nil,
        capacity: request.hasCapacity ? Int(request.capacity) : nil, offerIds: Set(request.offerIds))
      // Without assignments asked for, a dry run: the totals of what the campaign would do.
      let (plan, decisionIds) = try live.selectOutbound(outbound, commit: request.includeAssignments)
      var perOffer: [String: (count: UInt32, value: Double)] = [:]
      for assignment in plan.assignments {
        perOffer[assignment.offerId, default: (0, 0)].count += 1
        perOffer[assignment.offerId, default: (0, 0)].value += assignment.expectedValue
      }
      return .with {
        $0.requestID = request.requestID
        $0.versions = live.snapshot.engine.versions.proto
        $0.considered = UInt32(plan.considered)
        $0.candidates = UInt32(plan.candidates)
        $0.selected = UInt32(plan.assignments.count)
        $0.expectedResponses = plan.expectedResponses
        $0.expectedValue = plan.expectedValue
        $0.totalCost = plan.totalCost
        $0.stoppedBy = plan.stoppedBy
        $0.perOffer = perOffer.sorted {
          $0.value.count > $1.value.count || ($0.value.count == $1.value.count && $0.key < $1.key)
        }.map { entry in
          .with {
            $0.offerID = entry.key
            $0.count = entry.value.count
            $0.expectedValue = entry.value.value
          }
        }
        if request.includeAssignments {
          $0.assignments = zip(plan.assignments, decisionIds).map { assignment, id in
            .with {
              $0.customerID = assignment.customerId
              $0.offerID = assignment.offerId
              $0.propensity = assignment.propensity
              $0.expectedValue = assignment.expectedValue
              $0.cost = assignment.cost
              $0.decisionID = id
              $0.treatment = assignment.treatment.proto
            }
          }
        }
      }
    }
  }
}
