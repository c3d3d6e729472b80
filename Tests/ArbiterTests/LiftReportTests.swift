import ArbiterCore
import ArbiterDecisioning
import ArbiterModels
import Foundation
import Testing

/// `arbiter-tools lift`: treatment against control per offer group, from the log alone.
@Suite struct LiftReportTests {
  /// A log with known counts: 200 decisions shown a card (60 accepted, value 10 each, one
  /// reporting 25), 100 held out of cards (10 converted anyway), 20 outbound decisions, and 5
  /// decisions still inside their window at the log's end.
  static func log() throws -> String {
    var lines: [String] = []
    func decision(_ i: Int, shown: String?, held: String?, ts: Int, exploration: String = "greedy") {
      let offers = shown.map { #"[{"offer_id":"\#($0)","probability":1,"value":10}]"# } ?? "[]"
      let control = held.map { #","control":[{"offer_id":"\#($0)","propensity":0.1,"score":1}]"# } ?? ""
      lines.append(
        #"{"type":"decision","decision_id":"d\#(i)","customer_id":\#(1 + i % 150),"channel":"web","ts":\#(ts),"#
          + #""bundle":"b/1","exploration":"\#(exploration)","offers":\#(offers)\#(control)}"#)
    }
    func outcome(_ i: Int, _ offer: String, _ kind: String, ts: Int, value: Double? = nil) {
      let reported = value.map { ",\"value\":\($0)" } ?? ""
      lines.append(
        #"{"type":"outcome","decision_id":"d\#(i)","customer_id":1,"offer_id":"\#(offer)","outcome":"\#(kind)","ts":\#(ts)\#(reported)}"#
      )
    }
    for i in 0..<200 {
      decision(i, shown: i % 2 == 0 ? "gold-card" : "silver-card", held: nil, ts: 1_000)
      if i % 10 < 3 {
        outcome(i, i % 2 == 0 ? "gold-card" : "silver-card", "accept", ts: 2_000, value: i == 0 ? 25 : nil)
      }
    }
    for i in 200..<300 {
      decision(i, shown: nil, held: "gold-card", ts: 1_000)
      if i % 10 == 0 { outcome(i, "gold-card", "convert", ts: 2_000) }
    }
    for i in 300..<320 { decision(i, shown: "loan", held: nil, ts: 1_000, exploration: "outbound") }
    // Late ones: their window (1 day) is open at the log's end.
    for i in 320..<325 { decision(i, shown: "gold-card", held: nil, ts: 200_000_000) }
    let path = try TestSupport.temporaryDirectory() + "/lift.jsonl"
    try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
    return path
  }

  @Test func knownCountsGiveKnownRatesAndIntervals() throws {
    let window = Duration.seconds(86_400)
    let read = try LoggedDecisions.read(paths: [Self.log()], window: window)
    let groups = ["gold-card": "cards", "silver-card": "cards", "loan": "loans"]
    let report = LiftReport.measure(read, window: window, groupOf: { groups[$0] }, valueOf: { _ in 10 })
    #expect(report.groups.map { "\($0.direction)/\($0.group)" } == ["inbound/cards", "outbound/loans"])
    let cards = report.groups[0]
    #expect(cards.treatment.decisions == 200 && cards.treatment.responses == 60 && cards.treatment.customers == 150)
    #expect(cards.control.decisions == 100 && cards.control.responses == 10 && cards.control.customers == 100)
    #expect(cards.treatment.value == 59 * 10 + 25 && cards.control.value == 100)
    let lift = try #require(cards.acceptanceLift)
    let error = (0.3 * 0.7 / 200 + 0.1 * 0.9 / 100).squareRoot()
    #expect(abs(lift.value - 0.2) < 1e-12 && abs(lift.upper - lift.value - 1.959963985 * error) < 1e-8)
    let value = try #require(cards.valueLift)
    #expect(abs(value.value - (615.0 / 200 - 1)) < 1e-12 && value.lower < value.value && value.upper > value.value)
    #expect(
      report.groups[1].note == "no control group (fewer than 2 held out)" && report.groups[1].treatment.decisions == 20)
  }

  /// On a live server's log, the lift the log gives agrees with the tallies the server kept in
  /// memory (two implementations of the same counts).
  @Test func aServersLogAgreesWithItsOwnTallies() async throws {
    let root = try TestSupport.temporaryDirectory()
    let logPath = root + "/interactions.jsonl"
    let server = try TestSupport.makeServer(customers: 6_000, logPath: logPath)
    let live = server.live
    var random = SeededGenerator(seed: 4)
    for id in server.store.customerIds() {
      let decision = try live.decide(DecisionRequest(customerId: id, channel: .web, maxOffers: 3))
      var outcomes: [OutcomeReport] = []
      if let first = decision.offers.first, random.chance(0.3) {
        outcomes.append(OutcomeReport(decisionId: decision.decisionId, offerId: first.offerId, outcome: .accept))
      }
      for held in decision.controls where random.chance(0.2) {
        outcomes.append(OutcomeReport(decisionId: decision.decisionId, offerId: held.offerId, outcome: .convert))
      }
      if !outcomes.isEmpty { _ = try live.log.record(outcomes) }
    }
    live.log.flush()
    let catalogue = live.snapshot.bundle.catalogue
    let groups = Dictionary(uniqueKeysWithValues: catalogue.offers.map { ($0.id, $0.group ?? $0.category) })
    // Decisions are at the tests' fixed clock, outcomes at the wall clock's: a window of 10 years.
    let window = Duration.seconds(3_650 * 86_400)
    var read = try LoggedDecisions.read(paths: [logPath], window: window)
    read.latestMillis = .max / 2  // every window closed
    // Offer by offer (each its own group), the units are the tallies' offers made and held out.
    let byOffer = LiftReport.measure(read, window: window, groupOf: { _ in nil }, valueOf: { _ in nil })
    var compared = 0
    for tally in live.log.offerTallies() where tally.made + tally.heldOut > 0 {
      let measured = byOffer.groups.first { $0.group == tally.offerId && $0.direction == "inbound" }
      #expect(measured?.treatment.decisions ?? 0 == Int(tally.made), "\(tally.offerId)")
      #expect(measured?.treatment.responses ?? 0 == Int(tally.accepted), "\(tally.offerId)")
      #expect(measured?.control.decisions ?? 0 == Int(tally.heldOut), "\(tally.offerId)")
      #expect(measured?.control.responses ?? 0 == Int(tally.controlConverted), "\(tally.offerId)")
      compared += tally.controlConverted > 0 ? 1 : 0
    }
    #expect(compared >= 5)
    let report = LiftReport.measure(read, window: window, groupOf: { groups[$0] }, valueOf: { _ in nil })
    #expect(report.groups.contains { $0.acceptanceLift != nil && $0.control.decisions > 30 })
  }
}
