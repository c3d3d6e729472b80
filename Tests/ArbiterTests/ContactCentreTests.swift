import ArbiterAPI
import ArbiterContactCentre
import ArbiterCore
import ArbiterDecisioning
import ArbiterHTTP
import ArbiterServer
import Foundation
import SwiftProtobuf
import Testing

/// "Call me" and screen pop: the call-back offer follows the contact centre's hours and capacity,
/// a call-back or an announced call goes to a free agent's console at once, or waits its turn.
@Suite struct ContactCentreTests {
  /// 2025-11-20, a Thursday: at midnight in London the centre is closed, at noon it is open.
  static let thursday = TestSupport.fixedClockDays

  func client(at days: Double, ping: Duration = .seconds(5)) throws -> (ArbiterServer, HTTPTestClient) {
    let server = try TestSupport.makeServer {
      $0.fixedClockDays = days
      $0.http.eventStreamPing = ping
    }
    return (server, HTTPTestClient(api: server.httpAPI))
  }

  static let page = #"""
    {"customerId":"0","visitorId":"v-test","channel":"CHANNEL_WEB","context":{"page":"mortgages"},"explain":true,
     "slots":[{"name":"help","contentType":"callback"}]}
    """#

  @Test func theCallBackIsOfferedOnlyWhileTheCentreIsOpen() async throws {
    let (_, closed) = try client(at: Self.thursday)
    let night = try Arbiter_V1_PersonalizeResponse(
      jsonUTF8Bytes: try await closed.post("/v1/personalize", Self.page).body)
    #expect(night.items.isEmpty)
    let (_, open) = try client(at: Self.thursday + 0.5)
    let noon = try Arbiter_V1_PersonalizeResponse(jsonUTF8Bytes: try await open.post("/v1/personalize", Self.page).body)
    #expect(noon.items.map(\.offer.offerID) == ["callback-contact-centre"])
    // Sunday: closed all day.
    let (_, sunday) = try client(at: Self.thursday + 3.5)
    let status = try Arbiter_V1_ContactCentreStatus(jsonUTF8Bytes: try await sunday.get("/v1/contact-centre").body)
    #expect(!status.open)
    #expect(status.hoursToday == "closed")
    #expect(status.timeZone == "Europe/London")
  }

  @Test func aClosedCentreNamesTheReasonAndRefusesCallBacks() async throws {
    let (server, closed) = try client(at: Self.thursday)
    let customer = server.store.customerIds().first!
    let decision = try server.live.decide(
      DecisionRequest(customerId: customer, channel: .web, page: "mortgages", maxOffers: 5, explain: true))
    let why = try #require(decision.suppressed.first { $0.offerId == "callback-contact-centre" })
    #expect(why.code == .closed)
    #expect(why.detail == "the contact-centre is closed (today 08:00–20:00, Europe/London)")
    let refused = try await closed.post(
      "/v1/callbacks", #"{"decisionId":"\#(decision.decisionId)","offerId":"callback-contact-centre"}"#)
    #expect(refused.status == 400)
    #expect(refused.json["code"] as? String == "FAILED_PRECONDITION")
    #expect((refused.json["message"] as? String)?.hasPrefix("the contact centre is closed") == true)
  }

  // A guard against a hang, not a speed target: the whole suite on 2 cores has starved this test for
  // over a minute.
  @Test(.timeLimit(.minutes(3))) func aCallBackPopsOnAFreeAgentsConsole() async throws {
    // Pings every 20 ms, so that they come between the events as they may in any run.
    let (server, open) = try client(at: Self.thursday + 0.5, ping: .milliseconds(20))
    let (response, chunks, stream) = try await open.open(.get, "/v1/agents/agent-1/events")
    #expect(response.headers[.contentType] == "text/event-stream")
    var events = chunks.makeAsyncIterator()
    #expect(String(decoding: try #require(await events.next()), as: UTF8.self).hasPrefix(": connected"))
    let page = try Arbiter_V1_PersonalizeResponse(jsonUTF8Bytes: try await open.post("/v1/personalize", Self.page).body)
    let ticket = try await open.post(
      "/v1/callbacks",
      #"{"decisionId":"\#(page.decisionID)","offerId":"callback-contact-centre","visitorId":"v-test","#
        + #""page":"mortgages","viewing":"Fixed-rate mortgage"}"#)
    #expect(ticket.status == 200, "\(ticket.text)")
    #expect(ticket.json["agentId"] as? String == "agent-1")
    // Pressed twice: the same call, not a second one.
    let again = try await open.post(
      "/v1/callbacks", #"{"decisionId":"\#(page.decisionID)","offerId":"callback-contact-centre"}"#)
    #expect(again.json["callId"] as? String == ticket.json["callId"] as? String)
    // Not for another customer than the decision's, nor for a decision never made.
    let other = try await open.post(
      "/v1/callbacks",
      #"{"decisionId":"\#(page.decisionID)","offerId":"callback-contact-centre","customerId":"100042"}"#)
    #expect(other.status == 400)
    #expect((other.json["message"] as? String)?.hasPrefix("customer_id: 100042 is not the customer") == true)
    let never = try await open.post("/v1/callbacks", #"{"decisionId":"p-nope","offerId":"callback-contact-centre"}"#)
    #expect(never.status == 404)
    #expect((never.json["message"] as? String)?.hasPrefix("decision_id: decision 'p-nope' not found") == true)
    // The next event past the stream's pings.
    func nextEvent() async throws -> String {
      while true {
        let chunk = String(decoding: try #require(await events.next()), as: UTF8.self)
        if !chunk.hasPrefix("event: ping\n") { return chunk }
      }
    }
    let event = try await nextEvent()
    #expect(event.hasPrefix("event: call\ndata: "))
    let call = try Arbiter_V1_Call(
      jsonString: String(event.dropFirst("event: call\ndata: ".count)).trimmingCharacters(in: .whitespacesAndNewlines))
    #expect(call.origin == .callback)
    #expect(call.page == "mortgages" && call.viewing == "Fixed-rate mortgage" && call.visitorID == "v-test")
    #expect(call.decisionID == page.decisionID)
    // Pressing it accepted the offer.
    let tallies = server.live.log.offerTallies()
    #expect(tallies.first { $0.offerId == "callback-contact-centre" }?.accepted == 1)
    // The agent is busy now: the next call waits until they are free again.
    let customer = server.store.customerIds().first!
    let waiting = try await open.post("/v1/calls", #"{"customerId":"\#(customer)","callReason":"travel"}"#)
    #expect(waiting.json["queuePosition"] as? Int == 1)
    #expect(waiting.json["agentId"] == nil)
    let freed = try await open.post("/v1/agents/agent-1/state", #"{"state":"AGENT_FREE"}"#)
    #expect(freed.status == 200)
    let next = try await nextEvent()
    #expect(next.contains(#""origin":"CALL_ORIGIN_INBOUND""#) && next.contains(#""callReason":"travel""#))
    stream.cancel()
    let unknown = try await open.post("/v1/calls", #"{"customerId":"5"}"#)
    #expect(unknown.status == 404)
    let badAgent = try await open.post("/v1/agents/a%20b/state", #"{"state":"AGENT_FREE"}"#)
    #expect(badAgent.status == 400)
  }

  @Test func callsGoToTheAgentFreeLongestAndWaitFirstComeFirstServed() throws {
    let centre = CallDistributor(averageHandleSeconds: 300)
    func call(_ n: UInt64) -> QueuedCall {
      QueuedCall(id: "c-\(n)", customerId: n, origin: .inbound, queuedAtMillis: 0)
    }
    // No agent: calls wait, the wait grows with the queue.
    let first = try centre.enqueue(call(1))
    let second = try centre.enqueue(call(2))
    #expect(first.agentId == nil && first.queuePosition == 1 && first.expectedWaitSeconds == 300)
    #expect(second.queuePosition == 2 && second.expectedWaitSeconds == 600)
    // Two consoles connect: the oldest call goes to the first, the next to the second.
    let a = centre.connect(agentId: "a")
    let b = centre.connect(agentId: "b")
    #expect(centre.status().callsWaiting == 0)
    #expect(centre.agentStatus(agentId: "a").callId == "c-1")
    #expect(centre.agentStatus(agentId: "b").callId == "c-2")
    // Both busy: the third waits; b frees first and gets it; a, free later, gets the fourth.
    #expect(try centre.enqueue(call(3)).queuePosition == 1)
    _ = centre.setAvailability(agentId: "b", .free)
    #expect(centre.agentStatus(agentId: "b").callId == "c-3")
    _ = centre.setAvailability(agentId: "a", .free)
    #expect(try centre.enqueue(call(4)).agentId == "a")
    // Busy takes an agent off the queue.
    _ = centre.setAvailability(agentId: "a", .busy)
    _ = centre.setAvailability(agentId: "b", .busy)
    #expect(try centre.enqueue(call(5)).agentId == nil)
    _ = (a, b)
  }

  @Test(.timeLimit(.minutes(1))) func aCallOfAConsoleThatWentGoesToTheNextFreeAgent() async throws {
    let centre = CallDistributor()
    var gone: AsyncStream<CallDistributor.AgentEvent>? = centre.connect(agentId: "gone")
    #expect(
      try centre.enqueue(QueuedCall(id: "c-1", customerId: 1, origin: .inbound, queuedAtMillis: 0)).agentId == "gone")
    // The console closes (its stream is dropped) before anyone answered: the call waits again.
    gone = nil
    _ = gone
    for _ in 0..<100 where centre.status().callsWaiting == 0 { try await Task.sleep(for: .milliseconds(10)) }
    #expect(centre.status().callsWaiting == 1)
    #expect(centre.agentStatus(agentId: "gone").callId == nil)
    let next = centre.connect(agentId: "next")
    var events = next.makeAsyncIterator()
    #expect(
      await events.next()
        == .call(QueuedCall(id: "c-1", customerId: 1, origin: .inbound, queuedAtMillis: 0, agentId: "next")))
  }

  /// The local time opening hours read from their offset table (no `TimeZone` per decision) is
  /// Foundation's, every three hours and a minute either side of each transition, for a decade.
  @Test(arguments: ["Europe/London", "America/New_York", "Australia/Sydney", "Asia/Kolkata", "Pacific/Chatham"])
  func openingHoursLocalTimeIsFoundations(zoneName: String) throws {
    let zone = try #require(TimeZone(identifier: zoneName))
    let hours = try CompiledOpeningHours(
      OpeningHours(
        channel: .contactCentre, timeZone: zoneName,
        periods: [OpeningPeriod(days: "daily", open: "08:00", close: "20:00")]),
      field: "h")
    var calendar = Calendar(identifier: .gregorian)
    calendar.timeZone = zone
    func foundation(_ date: Date) -> (weekday: Int, minute: Int) {
      let parts = calendar.dateComponents([.weekday, .hour, .minute], from: date)
      return ((parts.weekday! + 5) % 7, parts.hour! * 60 + parts.minute!)
    }
    var instants: [Date] = []
    let start = Date().addingTimeInterval(-360 * 86_400), end = Date().addingTimeInterval(3_640 * 86_400)
    var at = start
    while at < end {
      instants.append(at)
      at = at.addingTimeInterval(3 * 3_600 + 60)
    }
    var transitions = 0
    at = start
    while let next = zone.nextDaylightSavingTimeTransition(after: at), next < end {
      instants += [next.addingTimeInterval(-60), next, next.addingTimeInterval(60)]
      transitions += 1
      at = next
    }
    if zoneName != "Asia/Kolkata" { #expect(transitions >= 18) }
    var differing = 0
    for instant in instants {
      let millis = Int64((instant.timeIntervalSince1970 * 1000).rounded(.down))
      let ours = hours.localTime(atMillis: millis), theirs = foundation(instant)
      if ours.weekday != theirs.weekday || ours.minute != theirs.minute { differing += 1 }
    }
    #expect(differing == 0, "\(differing) of \(instants.count) instants differ")
  }

  @Test func openingHoursReadLocalTimeAcrossDaylightSaving() throws {
    let hours = try CompiledOpeningHours(
      OpeningHours(
        channel: .contactCentre, timeZone: "Europe/London",
        periods: [OpeningPeriod(days: "mon-fri", open: "08:00", close: "20:00")]),
      field: "openingHours[0]")
    func millis(_ text: String) -> Int64 {
      Int64(ISO8601DateFormatter().date(from: text)!.timeIntervalSince1970 * 1000)
    }
    // Summer: 07:30 UTC is 08:30 in London (open); winter: 07:30 UTC is 07:30 (closed).
    #expect(hours.isOpen(atMillis: millis("2026-07-01T07:30:00Z")))
    #expect(!hours.isOpen(atMillis: millis("2026-12-02T07:30:00Z")))
    #expect(hours.isOpen(atMillis: millis("2026-12-02T19:59:00Z")))
    #expect(!hours.isOpen(atMillis: millis("2026-12-02T20:00:00Z")))
    #expect(!hours.isOpen(atMillis: millis("2026-12-05T12:00:00Z")))  // a Saturday
    for (days, problem) in [("weekdays", "days"), ("fri-mon", "days")] {
      #expect(throws: ArbiterError.self, "\(problem)") {
        try CompiledOpeningHours(
          OpeningHours(
            channel: .contactCentre, timeZone: "Europe/London",
            periods: [OpeningPeriod(days: days, open: "08:00", close: "20:00")]), field: "h")
      }
    }
    #expect(throws: ArbiterError(.invalidArgument, "h.timeZone: unknown time zone 'Mars/Olympus'")) {
      try CompiledOpeningHours(
        OpeningHours(channel: .contactCentre, timeZone: "Mars/Olympus", periods: []), field: "h")
    }
  }
}
