import ArbiterCore
import ArbiterDecisioning
import Dispatch
import Testing

/// Bug 11's other half: a retry that races its original on another thread (both found the
/// outcome unrecorded when they checked) is recorded once, not twice.
@Suite struct OutcomeRetryRaceTests {
  @Test func anOutcomeSentTwiceAtOnceIsRecordedOnce() throws {
    let server = try TestSupport.makeServer()
    let live = server.live
    var reports: [OutcomeReport] = []
    for id in server.store.customerIds() where reports.count < 400 {
      let decision = try live.decide(DecisionRequest(customerId: id, channel: .web, maxOffers: 1))
      guard let offer = decision.offers.first else { continue }
      reports.append(OutcomeReport(decisionId: decision.decisionId, offerId: offer.offerId, outcome: .accept))
    }
    #expect(reports.count == 400)
    let before = live.log.offerTallies().reduce(0) { $0 + $1.accepted }
    // Two threads send every outcome at the same moment, one call each.
    let sent = reports
    DispatchQueue.concurrentPerform(iterations: 2) { _ in
      for report in sent { _ = try? live.log.record([report]) }
    }
    let accepted = live.log.offerTallies().reduce(0) { $0 + $1.accepted } - before
    #expect(accepted == 400, "\(accepted) accepts recorded for 400 outcomes sent twice each")
    #expect(live.log.counts.outcomes == 400)
  }
}
