import ArbiterAPI
import ArbiterContactCentre
import ArbiterCore
import ArbiterDecisioning
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import ServiceLifecycle

/// The contact centre's routes: "Call me" call-backs, calls announced by the telephony system,
/// agents' event streams (screen pop) and availability, and the centre's status.
extension HTTPAPI {
  func addContactCentreRoutes(to router: Router<ArbiterRequestContext>) {
    router.post("/v1/callbacks") { request, _ in
      let message = try await body(Arbiter_V1_CallbackRequest.self, of: request)
      return try json(try await callback(message))
    }
    router.post("/v1/calls") { request, _ in
      let message = try await body(Arbiter_V1_CallEvent.self, of: request)
      return try json(try call(message))
    }
    router.get("/v1/contact-centre") { _, _ in try json(contactCentreStatus()) }
    router.get("/v1/agents/:agentId/events") { _, context in
      try eventStream(agentId: try agentId(context))
    }
    router.post("/v1/agents/:agentId/state") { request, context in
      let id = try agentId(context)
      let message = try await body(Arbiter_V1_AgentState.self, of: request)
      let availability: CallDistributor.Availability
      switch message.state {
      case .agentFree: availability = .free
      case .agentBusy: availability = .busy
      default: throw HTTPAPIError(.invalidArgument, "state: AGENT_FREE or AGENT_BUSY is required")
      }
      return try json(Self.proto(contactCentre.setAvailability(agentId: id, availability)))
    }
  }

  /// The contact centre's opening hours, if the catalogue gives them.
  private var hours: CompiledOpeningHours? {
    live.snapshot.engine.catalogue.openingHours[Channel.contactCentre.ordinal]
  }

  /// Now by the decisions' clock (the wall clock, unless the server runs on a fixed one), so that
  /// a call-back is taken exactly when its offer is made.
  private var nowMillis: Int64 { Int64((live.snapshot.engine.clock() * 86_400_000).rounded()) }

  /// "Call me": the call-back offer's acceptance is recorded against its decision, and the call
  /// queued with what the customer was doing.
  func callback(_ message: Arbiter_V1_CallbackRequest) async throws -> Arbiter_V1_CallbackTicket {
    guard !message.decisionID.isEmpty else { throw HTTPAPIError(.invalidArgument, "decision_id: required") }
    guard !message.offerID.isEmpty else { throw HTTPAPIError(.invalidArgument, "offer_id: required") }
    for (field, text, limit) in [
      ("visitor_id", message.visitorID, 64), ("page", message.page, 64), ("viewing", message.viewing, 200),
      ("phone_number", message.phoneNumber, 32),
    ] where text.unicodeScalars.count > limit {
      throw HTTPAPIError(.invalidArgument, "\(field): longer than \(limit) characters")
    }
    let catalogue = live.snapshot.engine.catalogue
    guard let index = catalogue.offerIndex[message.offerID],
      catalogue.offers[index].definition.fulfilledBy == .contactCentre
    else {
      throw HTTPAPIError(.invalidArgument, "offer_id: '\(message.offerID)' is not a call-back offer")
    }
    guard let customer = live.log.customer(ofDecision: message.decisionID) else {
      throw HTTPAPIError(.notFound, "decision_id: decision '\(message.decisionID)' not found (or no longer remembered)")
    }
    guard message.customerID == 0 || message.customerID == customer else {
      throw HTTPAPIError(
        .invalidArgument,
        "customer_id: \(message.customerID) is not the customer decision \(message.decisionID) was for")
    }
    let now = nowMillis
    if let hours, !hours.isOpen(atMillis: now) {
      throw HTTPAPIError(
        .failedPrecondition,
        "the contact centre is closed (today \(hours.hoursText(atMillis: now)), \(hours.timeZone.identifier))")
    }
    let accept = Arbiter_V1_RecordOutcomesRequest.with {
      $0.outcomes = [
        .with {
          $0.decisionID = message.decisionID
          $0.offerID = message.offerID
          $0.outcome = .accept
        }
      ]
    }
    _ = try await offloaded { () throws(ArbiterError) in try decisions.recordOutcomes(accept) }
    let call = QueuedCall(
      id: contactCentre.makeCallId(), customerId: customer, origin: .callback, page: message.page,
      viewing: message.viewing, decisionId: message.decisionID, visitorId: message.visitorID,
      phoneNumber: message.phoneNumber, queuedAtMillis: now)
    let ticket = try mapping { () throws(ArbiterError) in try contactCentre.enqueue(call) }
    return .with {
      $0.callID = ticket.callId
      $0.queuePosition = UInt32(ticket.queuePosition)
      $0.expectedWaitSeconds = UInt32(ticket.expectedWaitSeconds)
      $0.agentID = ticket.agentId ?? ""
    }
  }

  /// A call the telephony system announces, for a customer the store knows.
  func call(_ message: Arbiter_V1_CallEvent) throws(HTTPAPIError) -> Arbiter_V1_CallTicket {
    guard message.customerID != 0 else { throw HTTPAPIError(.invalidArgument, "customer_id: required") }
    guard live.snapshot.engine.customers.row(of: message.customerID) != nil else {
      throw HTTPAPIError(.notFound, "customer_id: customer \(message.customerID) not found")
    }
    guard message.callReason.unicodeScalars.count <= 64, message.phoneNumber.unicodeScalars.count <= 32 else {
      throw HTTPAPIError(.invalidArgument, "call_reason (64 characters) or phone_number (32) is too long")
    }
    let call = QueuedCall(
      id: contactCentre.makeCallId(), customerId: message.customerID, origin: .inbound,
      callReason: message.callReason, phoneNumber: message.phoneNumber, queuedAtMillis: nowMillis)
    let ticket = try mapping { () throws(ArbiterError) in try contactCentre.enqueue(call) }
    return .with {
      $0.callID = ticket.callId
      $0.agentID = ticket.agentId ?? ""
      $0.queuePosition = UInt32(ticket.queuePosition)
      $0.expectedWaitSeconds = UInt32(ticket.expectedWaitSeconds)
    }
  }

  func contactCentreStatus() -> Arbiter_V1_ContactCentreStatus {
    let status = contactCentre.status()
    let now = nowMillis
    return .with {
      $0.open = hours?.isOpen(atMillis: now) ?? true
      $0.agentsConnected = UInt32(status.agentsConnected)
      $0.agentsFree = UInt32(status.agentsFree)
      $0.callsWaiting = UInt32(status.callsWaiting)
      $0.expectedWaitSeconds = UInt32(status.expectedWaitSeconds)
      $0.hoursToday = hours?.hoursText(atMillis: now) ?? "always open"
      $0.timeZone = hours?.timeZone.identifier ?? ""
    }
  }

  /// The agent id of the path: 1 to 64 letters, digits, '.', '_' or '-'.
  private func agentId(_ context: ArbiterRequestContext) throws(HTTPAPIError) -> String {
    let id = context.parameters.get("agentId") ?? ""
    guard (1...64).contains(id.utf8.count),
      id.utf8.allSatisfy({
        $0 == 0x2D || $0 == 0x2E || $0 == 0x5F || (0x30...0x39).contains($0) || (0x41...0x5A).contains($0)
          || (0x61...0x7A).contains($0)
      })
    else {
      throw HTTPAPIError(.invalidArgument, "agentId: '\(id)' must be 1 to 64 letters, digits, '.', '_' or '-'")
    }
    return id
  }

  /// Server-Sent Events for one agent's console: `call` when a call pops for them, `ping` when
  /// quiet; it ends when the console goes or the server shuts down.
  private func eventStream(agentId: String) throws -> Response {
    var headers = HTTPFields()
    headers[.contentType] = "text/event-stream"
    headers[.cacheControl] = "no-cache"
    let distributor = contactCentre
    let ping = configuration.eventStreamPing
    let body = ResponseBody { writer in
      let events = distributor.connect(agentId: agentId)
      let (lines, out) = AsyncStream<String>.makeStream()
      // The calls and the pings, until the console goes (the write fails and the producers are
      // cancelled) or the server shuts down (they are cancelled, which ends the stream).
      let producers = Task {
        try? await cancelWhenGracefulShutdown {
          try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
              for await event in events {
                if case .call(let call) = event, let data = try? Self.proto(call).jsonString() {
                  out.yield("event: call\ndata: \(data)\n\n")
                }
              }
            }
            group.addTask {
              while true {
                try await Task.sleep(for: ping)
                out.yield("event: ping\ndata: {}\n\n")
              }
            }
            try await group.next()
            group.cancelAll()
          }
        }
        out.finish()
      }
      defer { producers.cancel() }
      try await writer.write(ByteBuffer(string: ": connected\n\nretry: 2000\n\n"))
      for await line in lines { try await writer.write(ByteBuffer(string: line)) }
      try await writer.finish(nil)
    }
    return Response(status: .ok, headers: headers, body: body)
  }

  static func proto(_ call: QueuedCall) -> Arbiter_V1_Call {
    .with {
      $0.callID = call.id
      $0.customerID = call.customerId
      $0.origin = call.origin == .callback ? .callback : .inbound
      $0.callReason = call.callReason
      $0.page = call.page
      $0.viewing = call.viewing
      $0.decisionID = call.decisionId
      $0.visitorID = call.visitorId
      $0.phoneNumber = call.phoneNumber
      $0.queuedAtMillis = call.queuedAtMillis
      $0.agentID = call.agentId
    }
  }

  static func proto(_ status: CallDistributor.AgentStatus) -> Arbiter_V1_AgentState {
    .with {
      $0.state = status.availability == .free ? .agentFree : .agentBusy
      $0.callID = status.callId ?? ""
      $0.connected = status.connected
    }
  }
}
