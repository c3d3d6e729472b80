import ArbiterCore
import ArbiterDecisioning
import Testing

/// Lift against control: an offer held out for its control group can be reported converted (the
/// customer took the product anyway), and only converted; the tallies the dashboard reads count
/// both sides.
@Suite struct ControlConversionTests {
  @Test func aHeldOutOfferTakesAConversionAndNothingElse() throws {
    let server = try TestSupport.makeServer(customers: 3_000)
    let live = server.live
    // The demo catalogue holds out 5% of customers per offer group: find a decision with one.
    var found: Decision?
    for id in server.store.customerIds() {
      let decision = try live.decide(DecisionRequest(customerId: id, channel: .web, maxOffers: 3))
      if !decision.controls.isEmpty && !decision.offers.isEmpty {
        found = decision
        break
      }
    }
    let decision = try #require(found, "no decision among 3,000 customers held an offer out")
    let held = decision.controls[0].offerId
    func report(_ outcome: OutcomeKind, _ offer: String) -> OutcomeReport {
      OutcomeReport(decisionId: decision.decisionId, offerId: offer, outcome: outcome)
    }
    #expect(throws: ArbiterError.self) { try live.log.record([report(.accept, held)]) }
    do {
      _ = try live.log.record([report(.click, held)])
      Issue.record("a click on an offer never shown was accepted")
    } catch {
      #expect(error.message.contains("was held out for its control group, not shown; only OUTCOME_CONVERT"))
    }
    #expect(try live.log.record([report(.convert, held)]) == 1)
    // Again (a retry): acknowledged, not counted twice.
    #expect(try live.log.record([report(.convert, held)]) == 1)
    let tally = try #require(live.log.offerTallies().first { $0.offerId == held })
    #expect(tally.heldOut >= 1)
    #expect(tally.controlConverted == 1)
    #expect(tally.converted == 0, "a control conversion is not the treatment's")
    // A shown offer's conversion counts on the treatment side.
    let shown = decision.offers[0].offerId
    #expect(try live.log.record([report(.convert, shown)]) == 1)
    #expect(live.log.offerTallies().first { $0.offerId == shown }?.converted == 1)
    // An offer neither shown nor held out is still refused.
    let other = try #require(
      server.live.snapshot.engine.catalogue.offers.map(\.definition.id).first { id in
        id != held && !decision.offers.contains { $0.offerId == id } && !decision.controls.contains { $0.offerId == id }
      })
    #expect(throws: ArbiterError.self) { try live.log.record([report(.convert, other)]) }
  }
}
