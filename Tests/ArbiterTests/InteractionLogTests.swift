import ArbiterCore
import ArbiterDecisioning
import ArbiterServer
import Foundation
import Testing

@Suite struct InteractionLogTests {
  @Test func decisionsSurviveARejectedOutcomeBatchAndReachTheFile() throws {
    let path = try TestSupport.temporaryDirectory() + "/log.jsonl"
    let server = try TestSupport.makeServer(logPath: path)
    let live = server.live
    let first = try live.decide(DecisionRequest(customerId: 100_042, channel: .web))
    let second = try live.decide(DecisionRequest(customerId: 100_007, channel: .web))
    #expect(throws: ArbiterError.self) {
      try live.log.record([OutcomeReport(decisionId: "unknown", offerId: "x", outcome: .accept)])
    }
    let recorded = try live.log.record([
      OutcomeReport(decisionId: first.decisionId, offerId: first.offers[0].offerId, outcome: .convert, value: 1_250)
    ])
    #expect(recorded == 1)
    live.log.flush()
    let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
    #expect(lines.count == 3)
    #expect(lines[0].contains("\"decision_id\":\"\(first.decisionId)\"") && lines[0].contains("\"type\":\"decision\""))
    #expect(lines[1].contains("\"decision_id\":\"\(second.decisionId)\""))
    #expect(lines[2].contains("\"type\":\"outcome\"") && lines[2].contains("\"value\":1250"))
    for line in lines {
      #expect((try? JSONSerialization.jsonObject(with: Data(line.utf8))) != nil, "each line is JSON: \(line)")
    }
    #expect(live.log.counts.decisions == 2)
    #expect(live.log.counts.outcomes == 1)
  }

  @Test func historyKeepsTheNewestFirst() throws {
    let log = try InteractionLog(path: nil)
    let server = try TestSupport.makeServer()
    let decision = try server.live.snapshot.engine.decide(
      DecisionRequest(customerId: 100_042, channel: .web, maxOffers: 2), decisionId: "d1")
    log.record(decision)
    _ = try log.record([
      OutcomeReport(decisionId: "d1", offerId: decision.offers[1].offerId, outcome: .decline, declineReason: "no-need")
    ])
    let recent = log.recent(customerId: 100_042, limit: 10)
    #expect(recent.count == 3)
    #expect(recent[0].outcome == .decline && recent[0].declineReason == "no-need")
    #expect(recent[1].outcome == nil)
  }

  @Test func aRestartedLogAcceptsOutcomesForItsPredecessorsDecisions() throws {
    let path = try TestSupport.temporaryDirectory() + "/log.jsonl"
    let engine = try TestSupport.makeServer().live.snapshot.engine
    let first = try InteractionLog(path: path, decisionCapacity: 100, historyCapacity: 1_000)
    let (sequenceA, idA) = first.makeDecisionId(kind: .decide)
    let a = try engine.decide(DecisionRequest(customerId: 100_042, channel: .web, maxOffers: 3), decisionId: idA)
    first.record(a, sequence: sequenceA)
    let (sequenceB, idB) = first.makeDecisionId(kind: .page)
    let b = try engine.decide(DecisionRequest(customerId: 100_007, channel: .web, maxOffers: 2), decisionId: idB)
    first.record(b, sequence: sequenceB)
    let foreign = try engine.decide(
      DecisionRequest(customerId: 100_042, channel: .web, maxOffers: 2), decisionId: "external-7")
    first.record(foreign)
    try #require(a.offers.count == 3 && b.offers.count >= 1 && foreign.offers.count == 2)
    _ = try first.record([
      OutcomeReport(
        decisionId: idA, offerId: a.offers[1].offerId, outcome: .decline,
        declineReason: "has one \"already\"\n\u{01} ü 😀")
    ])
    first.flush()
    let before = first.recent(customerId: 100_042, limit: 10)

    let second = try InteractionLog(path: path, decisionCapacity: 100, historyCapacity: 1_000)
    #expect(
      second.restored
        == InteractionLog.RestoreReport(decisions: 3, outcomes: 1, outcomesOfOlderDecisions: 0, malformedLines: 0))
    #expect(second.instanceId == first.instanceId)
    #expect(second.recent(customerId: 100_042, limit: 10) == before)
    #expect(
      before.count == 6 && before[0].outcome == .decline && before[0].declineReason == "has one \"already\"\n\u{01} ü 😀"
    )
    #expect(
      try second.record([
        OutcomeReport(decisionId: idB, offerId: b.offers[0].offerId, outcome: .accept),
        OutcomeReport(decisionId: "external-7", offerId: foreign.offers[0].offerId, outcome: .click),
      ]) == 2)
    // Still validated: the offer must be one the decision made.
    let notMade = try #require(
      engine.catalogue.offers.map(\.definition.id).first { id in !a.offers.contains { $0.offerId == id } })
    #expect(throws: ArbiterError.self) {
      try second.record([OutcomeReport(decisionId: idA, offerId: notMade, outcome: .accept)])
    }
    // New ids continue the instance, past anything the predecessor can have given out.
    let (next, nextId) = second.makeDecisionId(kind: .decide)
    #expect(next > sequenceB + 65_536 && next % 100 == (sequenceB + 1) % 100)
    #expect(nextId.hasPrefix("d-\(String(first.instanceId, radix: 16))-"))
  }

  @Test func aLineCutShortByACrashIsSkippedAndEnded() throws {
    let path = try TestSupport.temporaryDirectory() + "/log.jsonl"
    let engine = try TestSupport.makeServer().live.snapshot.engine
    let first = try InteractionLog(path: path)
    let (sequence, id) = first.makeDecisionId(kind: .decide)
    let decision = try engine.decide(DecisionRequest(customerId: 100_042, channel: .web), decisionId: id)
    first.record(decision, sequence: sequence)
    first.flush()
    let handle = try #require(FileHandle(forWritingAtPath: path))
    try handle.seekToEnd()
    try handle.write(contentsOf: Data("{\"type\":\"decision\",\"decision_id\":\"d-".utf8))
    try handle.close()

    let second = try InteractionLog(path: path)
    #expect(second.restored.decisions == 1 && second.restored.malformedLines == 1)
    #expect(
      try second.record([OutcomeReport(decisionId: id, offerId: decision.offers[0].offerId, outcome: .accept)]) == 1)
    let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
    #expect(lines.count == 3)
    #expect(lines[1] == "{\"type\":\"decision\",\"decision_id\":\"d-")
    #expect(lines[2].contains("\"type\":\"outcome\""))
    #expect((try? JSONSerialization.jsonObject(with: Data(lines[2].utf8))) != nil)
    // Read again: the cut line stays skipped, the rest is read back.
    let third = try InteractionLog(path: path)
    #expect(
      third.restored
        == InteractionLog.RestoreReport(decisions: 1, outcomes: 1, outcomesOfOlderDecisions: 0, malformedLines: 1))
  }

  @Test func onlyTheNewestDecisionsAreReadBack() throws {
    let path = try TestSupport.temporaryDirectory() + "/log.jsonl"
    let engine = try TestSupport.makeServer().live.snapshot.engine
    let first = try InteractionLog(path: path, decisionCapacity: 2)
    var decisions: [Decision] = []
    for customer in [100_001, 100_002, 100_003, 100_004, 100_005] as [UInt64] {
      let (sequence, id) = first.makeDecisionId(kind: .decide)
      decisions.append(
        try engine.decide(DecisionRequest(customerId: customer, channel: .web, maxOffers: 2), decisionId: id))
      first.record(decisions.last!, sequence: sequence)
    }
    _ = try first.record([
      OutcomeReport(decisionId: decisions[4].decisionId, offerId: decisions[4].offers[0].offerId, outcome: .click)
    ])
    first.flush()
    let second = try InteractionLog(path: path, decisionCapacity: 2)
    #expect(
      second.restored
        == InteractionLog.RestoreReport(decisions: 2, outcomes: 1, outcomesOfOlderDecisions: 0, malformedLines: 0))
    #expect(second.recent(customerId: 100_003, limit: 10).isEmpty)
    #expect(second.recent(customerId: 100_005, limit: 10).count == 3)
    #expect(throws: ArbiterError.self) {
      try second.record([
        OutcomeReport(decisionId: decisions[0].decisionId, offerId: decisions[0].offers[0].offerId, outcome: .accept)
      ])
    }
    #expect(
      try second.record([
        OutcomeReport(decisionId: decisions[3].decisionId, offerId: decisions[3].offers[1].offerId, outcome: .accept)
      ]) == 1)
  }

  @Test func theContactPolicyRemembersOffersMadeBeforeARestart() throws {
    let path = try TestSupport.temporaryDirectory() + "/log.jsonl"
    let request = DecisionRequest(customerId: 100_042, channel: .web, maxOffers: 3)
    let before = try TestSupport.makeServer(logPath: path)
    let made = try before.live.decide(request)
    // The best-scored offer shown (exploration, seeded by the random log instance, may have put
    // another one first): the one a server without the history shows again all but surely.
    let declined = try #require(made.offers.max { $0.score < $1.score }).offerId
    _ = try before.live.log.record([
      OutcomeReport(decisionId: made.decisionId, offerId: declined, outcome: .decline, declineReason: "not now")
    ])
    // A server without that history makes the declined offer again...
    let forgetful = try TestSupport.makeServer()
    #expect(try forgetful.live.decide(request).offers.map(\.offerId).contains(declined))
    // ...a server restarted on the log does not (the policy's no-repeat days).
    let restarted = try TestSupport.makeServer(logPath: path)
    let after = try restarted.live.decide(request)
    #expect(!after.offers.isEmpty && !after.offers.map(\.offerId).contains(declined))
    let contacts = restarted.live.log.contacts(customerId: 100_042, limit: 50)
    #expect(contacts.count == made.offers.count + 1 + after.offers.count)
    #expect(contacts.contains { $0.offerId == declined && $0.outcome == .decline })
  }

  @Test func handWrittenLinesAreReadInAnyOrderAndBadOnesSkipped() throws {
    let path = try TestSupport.temporaryDirectory() + "/log.jsonl"
    let lines: [String] = [
      #"{"offers":[{"rank":1,"offer_id":"a\u0062c","x":{"y":[1,2.5e-3,-0.5E+2,true,null,"s\"t"]}}],"ts":1000,"#
        + #""channel":"web","customer_id":7,"decision_id":"ext-1","type":"decision","extra":{}}"#,
      #"{"type":"outcome","decision_id":"ext-1","customer_id":7,"offer_id":"abc","outcome":"accept","ts":2000}"#,
      #"{"type":"shadow","decision_id":"s","offers":[]}"#,
      "",
      #"{"type":"decision","decision_id":"ext-2","customer_id":-1,"channel":"web","ts":1,"offers":[]}"#,
      #"{"type":"decision","decision_id":"ext-3","customer_id":1,"channel":"web","ts":1,"offers":[]} x"#,
      #"{"type":"outcome","decision_id":"ext-1","offer_id":"abc","outcome":"maybe","ts":1}"#,
      #"{"type":"decision","decision_id":"ext-4","customer_id":1,"channel":"web","ts":1,"#
        + #""offers":[{"offer_id":"q\x"}]}"#,
      #"{"type":"decision","decision_id":"ext-5","customer_id":99999999999999999999,"channel":"web","#
        + #""ts":1,"offers":[]}"#,
      #"{"type":"decision","decision_id":"ext-6","customer_id":1,"channel":"fax","ts":1,"offers":[]}"#,
      #"{"type":"outcome","decision_id":"gone","offer_id":"abc","outcome":"click","ts":5}"#,
    ]
    try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: path))
    let log = try InteractionLog(path: path)
    #expect(
      log.restored
        == InteractionLog.RestoreReport(decisions: 1, outcomes: 1, outcomesOfOlderDecisions: 1, malformedLines: 6))
    let recent = log.recent(customerId: 7, limit: 10)
    #expect(
      recent == [
        InteractionEntry(decisionId: "ext-1", offerId: "abc", channel: .web, outcome: .accept, timestampMillis: 2_000),
        InteractionEntry(decisionId: "ext-1", offerId: "abc", channel: .web, outcome: nil, timestampMillis: 1_000),
      ])
    #expect(try log.record([OutcomeReport(decisionId: "ext-1", offerId: "abc", outcome: .convert, value: 10)]) == 1)
  }

  /// Decides `count` times for customer 100042 (or an anonymous visitor, who is eligible for
  /// more offers) on the web with `offers` offers each, logged.
  func logged(_ count: Int, offers: Int, anonymous: Bool = false, in log: InteractionLog) throws -> [Decision] {
    let engine = try TestSupport.makeServer().live.snapshot.engine
    let request = DecisionRequest(
      customerId: anonymous ? 0 : 100_042, channel: .web, maxOffers: offers, anonymous: anonymous)
    return try (0..<count).map { _ in
      let (sequence, id) = log.makeDecisionId(kind: .decide)
      let decision = try engine.decide(request, decisionId: id, contacts: [])
      log.record(decision, sequence: sequence)
      return decision
    }
  }

  @Test func outcomesOfEveryRememberedDecisionAreAccepted() throws {
    // Ten offers a decision: the offer ring (eight per decision by default) bounds memory, and
    // a decision is remembered exactly as long as its offers are.
    let log = try InteractionLog(path: nil, decisionCapacity: 100)
    let decisions = try logged(100, offers: 10, anonymous: true, in: log)
    try #require(decisions.allSatisfy { $0.offers.count == 10 })
    #expect(log.offerCapacity == 800)
    for decision in decisions.suffix(80) {
      #expect(
        try log.record([
          OutcomeReport(decisionId: decision.decisionId, offerId: decision.offers[9].offerId, outcome: .click)
        ]) == 1)
    }
    for decision in decisions.prefix(20) {
      do {
        _ = try log.record([
          OutcomeReport(decisionId: decision.decisionId, offerId: decision.offers[9].offerId, outcome: .click)
        ])
        Issue.record("an outcome of a decision whose offers were overwritten was accepted")
      } catch {
        #expect(error.code == .notFound && error.message.contains("no longer remembered"), "\(error.message)")
      }
    }
    // Sized for it, all 100 are remembered.
    let roomy = try InteractionLog(path: nil, decisionCapacity: 100, offerCapacity: 1_000)
    for decision in try logged(100, offers: 10, anonymous: true, in: roomy) {
      #expect(
        try roomy.record([
          OutcomeReport(decisionId: decision.decisionId, offerId: decision.offers[0].offerId, outcome: .accept)
        ]) == 1)
    }
  }

  @Test func anOutcomeTimeAheadOfTheClockIsRefusedAndARetryRecordedOnce() throws {
    let path = try TestSupport.temporaryDirectory() + "/log.jsonl"
    let log = try InteractionLog(path: path)
    let decision = try #require(try logged(1, offers: 3, in: log).first)
    let offer = decision.offers[0].offerId
    let now = Int64(Date().timeIntervalSince1970 * 1000)
    for future in [now + 3_600_000, Int64(32_503_680_000_000), Int64.max] {
      do {
        _ = try log.record([
          OutcomeReport(decisionId: decision.decisionId, offerId: offer, outcome: .decline, timestampMillis: future)
        ])
        Issue.record("an outcome dated \(future) was accepted")
      } catch {
        #expect(
          error.code == .invalidArgument && error.message.contains("ahead of the server clock"), "\(error.message)")
      }
    }
    // Before its own decision: refused too.
    #expect(throws: ArbiterError.self) {
      try log.record([
        OutcomeReport(decisionId: decision.decisionId, offerId: offer, outcome: .decline, timestampMillis: 1_000)
      ])
    }
    #expect(log.recent(customerId: 100_042, limit: 10).allSatisfy { $0.outcome == nil }, "nothing was recorded")
    // The same outcome sent twice (a retry), and twice in one batch: recorded once.
    let report = OutcomeReport(decisionId: decision.decisionId, offerId: offer, outcome: .accept)
    #expect(try log.record([report]) == 1)
    #expect(try log.record([report, report]) == 2)
    let decline = OutcomeReport(decisionId: decision.decisionId, offerId: offer, outcome: .decline, declineReason: "no")
    #expect(try log.record([decline]) == 1)
    let entries = log.recent(customerId: 100_042, limit: 10).filter { $0.outcome != nil }
    #expect(entries.map(\.outcome) == [.decline, .accept])
    #expect(log.counts.outcomes == 2)
    log.flush()
    let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").filter {
      $0.contains("\"type\":\"outcome\"")
    }
    #expect(lines.count == 2)
    // After a restart the outcomes read back still count: a retry is still recorded once.
    let restarted = try InteractionLog(path: path)
    #expect(try restarted.record([report]) == 1)
    #expect(restarted.counts.outcomes == 0)
  }

  @Test func declineReasonsAreBoundedAndCheapToKeep() throws {
    let log = try InteractionLog(path: nil, declineReasonBytes: 10_000)
    let decisions = try logged(300, offers: 1, in: log)
    let reason = String(repeating: "r", count: 99)
    var reports: [OutcomeReport] = []
    for (k, decision) in decisions.enumerated() {
      reports.append(
        OutcomeReport(
          decisionId: decision.decisionId, offerId: decision.offers[0].offerId, outcome: .decline,
          declineReason: reason + "\(k % 10)"))
    }
    #expect(try log.record(reports) == 300)
    let held = log.declineReasonsHeld
    #expect(held.bytes <= 10_000 && held.count == 100, "\(held)")
    let recent = log.recent(customerId: 100_042, limit: 600).filter { $0.outcome == .decline }
    #expect(recent.count == 300)
    #expect(recent.prefix(100).allSatisfy { $0.declineReason.hasPrefix(reason) }, "the newest reasons are kept")
    #expect(recent.suffix(200).allSatisfy { $0.declineReason.isEmpty }, "the oldest dropped")
    // Too long a reason is refused, naming it.
    do {
      _ = try log.record([
        OutcomeReport(
          decisionId: decisions[0].decisionId, offerId: decisions[0].offers[0].offerId, outcome: .click,
          declineReason: String(repeating: "x", count: 1_001))
      ])
      Issue.record("a 1001-byte decline reason was accepted")
    } catch {
      #expect(error.message.contains("decline reason is 1001 characters, at most 1000"), "\(error.message)")
    }
  }
}
