import ArbiterCore
import ArbiterDecisioning
import ArbiterFeatureStore
import ArbiterModels
import ArbiterServer
import Foundation
import Testing

/// Contact policy, control groups, exploration with logged probabilities, quotas and catalogue
/// validation, on the demo bank with its catalogue changed per test.
@Suite struct DecisionPolicyTests {
  static let server = Result { try TestSupport.makeServer() }
  let day: Int64 = 86_400_000
  var now: Int64 { Int64(TestSupport.fixedClockDays * 86_400_000) }

  /// An engine over the demo customers with the demo bundle's catalogue changed by `change`.
  func engine(
    at day: Double = TestSupport.fixedClockDays, _ change: (inout CatalogueDocument) -> Void
  ) throws -> DecisionEngine {
    try TestSupport.engine(over: Self.server.get(), at: day, change)
  }

  func greedy(_ catalogue: inout CatalogueDocument) {
    catalogue.exploration = ExplorationPolicy(method: .greedy)
    catalogue.controlGroup = nil
  }

  @Test func contactPolicyCapsCoolsDownAndDoesNotRepeat() throws {
    let engine = try engine { catalogue in
      greedy(&catalogue)
      catalogue.contactPolicy = ContactPolicy(
        frequencyCaps: [.init(channel: .web, max: 2, windowDays: 7)], declineCooldownDays: 14, maxOffersPerWeek: 5,
        noRepeatDays: 30)
    }
    let request = DecisionRequest(customerId: 100_042, channel: .web, maxOffers: 3, explain: true)
    let fresh = try engine.decide(request, decisionId: "c")
    #expect(fresh.offers.count == 3)
    let first = fresh.offers[0], second = fresh.offers[1]
    let category = first.category

    // Declined yesterday: not offered again, and its category cools down.
    let declined = [
      InteractionEntry(
        decisionId: "old", offerId: first.offerId, channel: .web, outcome: .decline, timestampMillis: now - day),
      InteractionEntry(
        decisionId: "old", offerId: first.offerId, channel: .web, outcome: nil, timestampMillis: now - day),
    ]
    let after = try engine.decide(request, decisionId: "c", history: declined)
    #expect(!after.offers.contains { $0.offerId == first.offerId || $0.category == category })
    let why = try #require(after.suppressed.first { $0.offerId == first.offerId })
    #expect(why.code == .contactPolicy && why.detail.hasPrefix("declined within the last 30 days"))
    // Declined 20 days ago: the cool-down (14 days) is over, the no-repeat (30) is not.
    let older = declined.map { entry in
      var e = entry; e.timestampMillis = now - 20 * day; return e
    }
    let later = try engine.decide(request, decisionId: "c", history: older)
    #expect(!later.offers.contains { $0.offerId == first.offerId })
    if category == second.category { #expect(later.offers.contains { $0.offerId == second.offerId }) }

    // Two web contacts this week: the cap (2 in 7 days) blocks the channel.
    let contacts = (0..<2).map {
      InteractionEntry(
        decisionId: "w\($0)", offerId: second.offerId, channel: .web, outcome: nil, timestampMillis: now - day)
    }
    let capped = try engine.decide(request, decisionId: "c", history: contacts)
    #expect(capped.offers.isEmpty)
    #expect(
      capped.suppressed.contains {
        $0.code == .contactPolicy && $0.detail.hasPrefix("frequency cap: 2 contacts through web")
      })
    // ...but not the phone.
    #expect(
      try !engine.decide(DecisionRequest(customerId: 100_042, channel: .mobileApp), decisionId: "c", history: contacts)
        .offers.isEmpty)

    // Four offers made this week (through the app): one more allowed.
    let made = (0..<4).map {
      InteractionEntry(
        decisionId: "a\($0 / 2)", offerId: "x", channel: .mobileApp, outcome: nil, timestampMillis: now - 2 * day)
    }
    let limited = try engine.decide(request, decisionId: "c", history: made)
    #expect(limited.offers.count == 1)
    #expect(limited.suppressed.contains { $0.code == .contactPolicy && $0.detail.hasPrefix("weekly limit: 1 more") })
  }

  @Test func controlGroupsAreStableHashHoldoutsAndLogged() throws {
    let engine = try engine { catalogue in
      greedy(&catalogue)
      catalogue.controlGroup = ControlGroupPolicy(share: 0.3, periodDays: 30, salt: "t")
    }
    let ids = engine.customers.customerIds().prefix(2_000)
    let card = try #require(engine.catalogue.offerIndex["premium-card-upgrade"])
    let held = ids.filter { engine.catalogue.isControl(customer: $0, offer: card, nowDays: 20_412) }
    #expect(abs(Double(held.count) / Double(ids.count) - 0.3) < 0.04, "\(held.count) of \(ids.count)")
    // Stable within the period, reshuffled in the next, independent across groups.
    let periodOf = { (day: Double) in (day / 30).rounded(.down) }
    #expect(periodOf(20_412) == periodOf(20_412 + 0.5), "half a day later is the same 30-day period")
    #expect(ids.filter { engine.catalogue.isControl(customer: $0, offer: card, nowDays: 20_412 + 0.5) } == held)
    let nextPeriod = ids.filter { engine.catalogue.isControl(customer: $0, offer: card, nowDays: 20_412 + 30) }
    #expect(Set(nextPeriod) != Set(held))
    let loan = try #require(engine.catalogue.offerIndex["personal-loan"])
    let loanHeld = Set(ids.filter { engine.catalogue.isControl(customer: $0, offer: loan, nowDays: 20_412) })
    let both = Double(loanHeld.intersection(held).count) / Double(ids.count)
    #expect(abs(both - 0.09) < 0.03, "groups independent: \(both)")
    // A held-out customer gets none of the group, and the decision logs what was held out.
    var checked = 0
    for id in held.prefix(200) {
      let decision = try engine.decide(
        DecisionRequest(customerId: id, channel: .web, maxOffers: 50, explain: true), decisionId: "g")
      #expect(!decision.offers.contains { $0.category == "cards" })
      for control in decision.controls where control.offerId == "premium-card-upgrade" {
        checked += 1
        #expect(decision.suppressed.contains { $0.offerId == control.offerId && $0.code == .controlGroup })
      }
    }
    #expect(checked > 0)
  }

  @Test(arguments: [
    ExplorationPolicy(method: .epsilonGreedy, epsilon: 0.2), ExplorationPolicy(method: .softmax, temperature: 0.3),
  ])
  func loggedProbabilitiesMatchHowOftenOffersAreDrawn(policy: ExplorationPolicy) throws {
    let engine = try engine { catalogue in
      greedy(&catalogue)
      catalogue.exploration = policy
    }
    let request = DecisionRequest(customerId: 100_042, channel: .web, maxOffers: 1)
    var counts: [String: Int] = [:]
    var logged: [String: Double] = [:]
    let n = 6_000
    for k in 0..<n {
      let decision = try engine.decide(request, decisionId: "e-\(k)")
      let offer = try #require(decision.offers.first)
      counts[offer.offerId, default: 0] += 1
      if let earlier = logged[offer.offerId] {
        #expect(abs(earlier - offer.probability) < 1e-12, "same offer, same probability")
      }
      logged[offer.offerId] = offer.probability
      #expect(decision.exploration == policy.method.rawValue)
    }
    #expect(counts.count > 2, "exploration shows more than the best offer")
    #expect(abs(logged.values.reduce(0, +) - 1) < 0.02, "the probabilities of what was drawn cover the draws")
    for (offer, count) in counts where count > 100 {
      let p = logged[offer]!
      let sd = (p * (1 - p) / Double(n)).squareRoot()
      #expect(
        abs(Double(count) / Double(n) - p) < 5 * sd + 1e-9, "\(offer): drawn \(count) of \(n), logged probability \(p)")
    }
  }

  /// Offers `bill-pay-switch` (quota 40 a day, pushed by a lever) to 1,000 customers from two
  /// threads at once; returns how many got it and the engine.
  func drawQuota(at day: Double, pacing: Bool) async throws -> (Int, DecisionEngine) {
    let engine = try engine(at: day) { catalogue in
      greedy(&catalogue)
      catalogue.arbitration.pacing = pacing
      let i = catalogue.offers.firstIndex { $0.id == "bill-pay-switch" }!
      catalogue.offers[i].quota = OfferQuota(limit: 40, period: .day)
      catalogue.offers[i].lever = 50  // wanted by everyone
    }
    let ids = Array(engine.customers.customerIds().prefix(1_000))
    let offered = await withTaskGroup(of: Int.self) { group in
      for part in 0..<2 {
        group.addTask {
          var count = 0
          for id in ids[(part * 500)..<((part + 1) * 500)] {
            if let decision = try? engine.decide(
              DecisionRequest(customerId: id, channel: .web, maxOffers: 3), decisionId: "q"),
              decision.offers.contains(where: { $0.offerId == "bill-pay-switch" })
            {
              count += 1
            }
          }
          return count
        }
      }
      return await group.reduce(0, +)
    }
    return (offered, engine)
  }

  @Test func aQuotaIsNeverExceededUnderConcurrency() async throws {
    let (offered, engine) = try await drawQuota(at: TestSupport.fixedClockDays, pacing: false)
    #expect(offered == 40)
    let quota = try #require(engine.catalogue.offers[engine.catalogue.offerIndex["bill-pay-switch"]!].quota)
    #expect(quota.used(at: TestSupport.fixedClockDays) == 40)
    let after = try engine.decide(
      DecisionRequest(customerId: 100_042, channel: .web, maxOffers: 50, explain: true), decisionId: "q")
    #expect(after.suppressed.contains { $0.offerId == "bill-pay-switch" && $0.code == .budget })
  }

  @Test func pacingSpreadsAQuotaOverItsPeriod() async throws {
    // At 06:00 a quarter of the day has passed (pace 10 of 40, plus 2% slack). Unpaced, all 40
    // would be gone; the price reaches the offer's whole value 10% of the limit (4) ahead of pace.
    let (offered, engine) = try await drawQuota(at: TestSupport.fixedClockDays + 0.25, pacing: true)
    #expect(offered >= 10 && offered <= 16, "\(offered) offered by 06:00")
    let quota = try #require(engine.catalogue.offers[engine.catalogue.offerIndex["bill-pay-switch"]!].quota)
    #expect(quota.price(at: TestSupport.fixedClockDays + 0.25) > 0)
    // The price falls back to zero as the day catches up.
    #expect(quota.price(at: TestSupport.fixedClockDays + 0.5) == 0)
    let explained = try engine.decide(
      DecisionRequest(customerId: 100_042, channel: .web, maxOffers: 50, explain: true), decisionId: "q")
    #expect(
      explained.suppressed.contains {
        $0.offerId == "bill-pay-switch" && $0.code == .belowCost && $0.detail.contains("shadow price")
      })
  }

  @Test func channelCapacityIsNeverExceeded() throws {
    // 20 agent minutes an hour, 3 minutes an offer: at most 6 offers an hour through the contact centre.
    let engine = try engine { catalogue in
      greedy(&catalogue)
      catalogue.capacity = [ChannelCapacity(channel: .contactCentre, unitsPerHour: 20, unitsPerOffer: 3)]
      catalogue.arbitration.pacing = false
    }
    var made = 0
    for id in engine.customers.customerIds().prefix(300) {
      made += try engine.decide(
        DecisionRequest(customerId: id, channel: .contactCentre, maxOffers: 3), decisionId: "cap"
      ).offers.count
    }
    #expect(made == 6)
    let budget = try #require(engine.catalogue.capacityBudgets[Channel.contactCentre.ordinal])
    #expect(budget.used(at: TestSupport.fixedClockDays) == 18)
    let explained = try engine.decide(
      DecisionRequest(customerId: 100_042, channel: .contactCentre, maxOffers: 3, explain: true), decisionId: "cap")
    #expect(explained.offers.isEmpty && explained.suppressed.contains { $0.code == .capacity })
    // The web has no capacity limit.
    #expect(try !engine.decide(DecisionRequest(customerId: 100_042, channel: .web), decisionId: "cap").offers.isEmpty)
  }

  @Test func outboundSelectionMaximisesValueUnderBudgetCapacityAndQuotas() throws {
    let quoted = try engine { catalogue in
      greedy(&catalogue)
      let i = catalogue.offers.firstIndex { $0.id == "travel-insurance" }!
      catalogue.offers[i].quota = OfferQuota(limit: 25, period: .day)
    }
    let everyone = try quoted.selectOutbound(OutboundRequest(channel: .email))
    #expect(everyone.considered == quoted.customers.count)
    #expect(
      Set(everyone.assignments.map { $0.customerId }).count == everyone.assignments.count, "one offer per customer")
    #expect(
      everyone.assignments.allSatisfy { $0.expectedValue > $0.cost && $0.cost == 1 && !$0.treatment.message.isEmpty })
    #expect(everyone.assignments.filter { $0.offerId == "travel-insurance" }.count == 25)

    // Without limits every candidate gets their best offer; with the quota, the customers left
    // out are exactly some of those whose best offer was the one out of quota (they had no other).
    let fresh = try engine { catalogue in greedy(&catalogue) }
    let all = try fresh.selectOutbound(OutboundRequest(channel: .email))
    #expect(all.assignments.count == all.candidates && all.stoppedBy == "candidates")
    let quotedCustomers = Set(everyone.assignments.map(\.customerId))
    let leftOut = all.assignments.filter { !quotedCustomers.contains($0.customerId) }
    #expect(leftOut.allSatisfy { $0.offerId == "travel-insurance" })
    #expect(everyone.assignments.count == all.assignments.count - leftOut.count)
    #expect(all.assignments.filter { $0.offerId == "travel-insurance" }.count > 25, "the quota binds")
    let top = try fresh.selectOutbound(OutboundRequest(channel: .email, capacity: 100))
    #expect(top.assignments.count == 100 && top.stoppedBy == "capacity")
    let best = all.assignments.sorted { $0.expectedValue - $0.cost > $1.expectedValue - $1.cost }.prefix(100)
    #expect(Set(top.assignments.map { $0.customerId }) == Set(best.map { $0.customerId }))
    // A budget of 50 e-mails at 1 each.
    let budgeted = try fresh.selectOutbound(OutboundRequest(channel: .email, budget: 50))
    #expect(budgeted.assignments.count == 50 && budgeted.totalCost <= 50 && budgeted.stoppedBy == "budget")
    #expect(
      budgeted.expectedValue > Double(50) / Double(all.assignments.count) * all.expectedValue,
      "better than an average pick")
    // Outbound calls cost a whole contact (60): fewer customers are worth one.
    let calls = try fresh.selectOutbound(OutboundRequest(channel: .contactCentre))
    #expect(calls.candidates < all.candidates && calls.assignments.allSatisfy { $0.cost == 60 })
    do {
      _ = try fresh.selectOutbound(OutboundRequest(channel: .email, offerIds: ["no-such-offer"]))
      Issue.record("an unknown offer was accepted")
    } catch {
      #expect(error.code == .invalidArgument && error.message == "offer 'no-such-offer' is not in the catalogue")
    }
  }

  @Test func aBadCatalogueIsRefusedWithFileLineAndField() throws {
    let (root, version) = try TestSupport.copyOfDemoBundle()
    _ = root
    let path = version + "/catalogue.json"
    var catalogue = try CanonicalJSON.decode(
      CatalogueDocument.self, from: Data(contentsOf: URL(fileURLWithPath: path)), file: path)
    catalogue.offers[3].eligibility = "income >= 25 and segmnt == 'x'"
    let live = try Self.server.get().live.snapshot
    let bundle = try ModelBundle(
      name: "demo", version: "1", createdBy: "test", schema: live.bundle.schema, catalogue: catalogue,
      models: live.bundle.models,
      population: live.bundle.manifest.population)
    let written = try TestSupport.temporaryDirectory()
    try bundle.write(toRoot: written)
    let file = written + "/1/catalogue.json"
    let text = try String(contentsOfFile: file, encoding: .utf8)
    let line = text.components(separatedBy: "\n").firstIndex { $0.contains("segmnt") }! + 1
    do {
      _ = try DecisionEngine(bundle: try ModelBundle.load(from: written), customers: live.engine.customers)
      Issue.record("a catalogue with an unknown feature in a rule loaded")
    } catch {
      #expect(error.message.contains("catalogue.json line \(line), offers[3].eligibility"), "\(error.message)")
      #expect(error.message.contains("position 18: unknown feature 'segmnt'"), "\(error.message)")
    }
  }
}
