import ArbiterCore
import ArbiterDecisioning
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
    for line in lines { #expect((try? JSONSerialization.jsonObject(with: Data(line.utf8))) != nil, "each line is JSON: \(line)") }
    #expect(live.log.counts.decisions == 2)
    #expect(live.log.counts.outcomes == 1)
  }

  @Test func historyKeepsTheNewestFirst() throws {
    let log = try InteractionLog(path: nil)
    let server = try TestSupport.makeServer()
    let decision = try server.live.snapshot.engine.decide(DecisionRequest(customerId: 100_042, channel: .web, maxOffers: 2), decisionId: "d1")
    log.record(decision)
    _ = try log.record([OutcomeReport(decisionId: "d1", offerId: decision.offers[1].offerId, outcome: .decline, declineReason: "no-need")])
    let recent = log.recent(customerId: 100_042, limit: 10)
    #expect(recent.count == 3)
    #expect(recent[0].outcome == .decline && recent[0].declineReason == "no-need")
    #expect(recent[1].outcome == nil)
  }
}
