import ArbiterCore
import ArbiterDecisioning
import ArbiterFeatureStore
import ArbiterModels
import ArbiterServer
import Foundation
import Testing

/// The draw and what it logs, with refusals and slots in play; validity dates and the weekly
/// limit where earlier code skipped them.
@Suite struct DecisionDrawTests {
  static let server = Result { try TestSupport.makeServer() }
  var now: Int64 { Int64(TestSupport.fixedClockDays * 86_400_000) }

  /// An engine over the demo customers with the demo bundle's catalogue changed by `change`.
  func engine(_ change: (inout CatalogueDocument) -> Void) throws -> DecisionEngine {
    try TestSupport.engine(over: Self.server.get()) { catalogue in
      catalogue.controlGroup = nil
      change(&catalogue)
    }
  }

  /// Decides `n` times with distinct decision ids (so distinct draws), giving back each decision's
  /// quota and capacity so that every draw sees the same state; returns the offers of each.
  func draws(
    _ engine: DecisionEngine, _ request: DecisionRequest, slots: [SlotRequest]? = nil, n: Int
  ) throws -> [[RankedOffer]] {
    try (0..<n).map { k in
      let decision = try engine.decide(request, decisionId: "draw-\(k)", contacts: [], slots: slots)
      engine.releaseReservations(of: decision)
      return decision.offers
    }
  }

  /// For each position, among the draws whose earlier positions are the same: the probability
  /// logged for an offer is the same every time and matches how often it is drawn there.
  func expectLoggedProbabilitiesMatchFrequencies(_ draws: [[RankedOffer]], positions: Int) -> Int {
    var checked = 0
    for position in 0..<positions {
      var groups: [[String]: [RankedOffer]] = [:]
      for offers in draws where offers.count > position {
        groups[offers[..<position].map(\.offerId), default: []].append(offers[position])
      }
      for (before, drawn) in groups where drawn.count >= 400 {
        var counts: [String: Int] = [:]
        var logged: [String: Double] = [:]
        for offer in drawn {
          counts[offer.offerId, default: 0] += 1
          if let earlier = logged[offer.offerId] {
            #expect(
              abs(earlier - offer.probability) < 1e-12, "position \(position + 1) after \(before): \(offer.offerId)")
          }
          logged[offer.offerId] = offer.probability
        }
        #expect(logged.values.reduce(0, +) <= 1 + 1e-9)
        let n = Double(drawn.count)
        for (offer, count) in counts {
          let p = logged[offer]!
          let sd = (p * (1 - p) / n).squareRoot()
          #expect(
            abs(Double(count) / n - p) < 5 * sd + 2 / n,
            "position \(position + 1) after \(before): \(offer) drawn \(count) of \(Int(n)), logged \(p)")
          checked += 1
        }
      }
    }
    return checked
  }

  @Test func loggedProbabilitiesHoldWithCapacityRefusals() throws {
    // 10 agent minutes an hour; the best offer takes 7, the others 4: after any other offer the
    // best one no longer fits, after the best one only offers of 4 minutes… none, 7 + 4 > 10.
    let probe = try engine { $0.exploration = ExplorationPolicy(method: .greedy) }
    let request = DecisionRequest(customerId: 100_042, channel: .contactCentre, maxOffers: 3)
    let best = try #require(probe.decide(request, decisionId: "p", contacts: []).offers.first).offerId
    let engine = try engine { catalogue in
      catalogue.exploration = ExplorationPolicy(method: .epsilonGreedy, epsilon: 0.4)
      catalogue.capacity = [ChannelCapacity(channel: .contactCentre, unitsPerHour: 10, unitsPerOffer: 4)]
      catalogue.arbitration.pacing = false
      let i = catalogue.offers.firstIndex { $0.id == best }!
      catalogue.offers[i].capacityUnits = 7
    }
    let drawn = try draws(engine, request, n: 6_000)
    #expect(drawn.allSatisfy { $0.count == 1 || !$0.contains { $0.offerId == best } })
    #expect(drawn.contains { $0.count == 2 }, "two offers of 4 minutes fit")
    #expect(expectLoggedProbabilitiesMatchFrequencies(drawn, positions: 2) > 3)
    #expect(engine.catalogue.capacityBudgets[Channel.contactCentre.ordinal]!.used(at: TestSupport.fixedClockDays) == 0)
  }

  @Test(arguments: [
    ExplorationPolicy(method: .epsilonGreedy, epsilon: 0.3), ExplorationPolicy(method: .softmax, temperature: 0.5),
  ])
  func loggedProbabilitiesHoldPerSlot(policy: ExplorationPolicy) throws {
    let engine = try engine { catalogue in
      catalogue.exploration = policy
      catalogue.maxPerCategoryPerPage = 1
    }
    // A typed slot first, then one that takes any category but the one already on the page.
    let slots = [
      SlotRequest(name: "loans", contentType: "loans", count: 1), SlotRequest(name: "any", contentType: "", count: 2),
    ]
    let request = DecisionRequest(customerId: 100_042, channel: .web, maxOffers: 50)
    let drawn = try draws(engine, request, slots: slots, n: 6_000)
    for offers in drawn {
      #expect(offers.first?.slot == "loans" && offers.first?.category == "loans")
      #expect(offers.dropFirst().allSatisfy { $0.slot == "any" && $0.category != "loans" })
      #expect(Set(offers.map(\.category)).count == offers.count, "one offer of a category on the page")
      #expect(offers.map(\.slotPosition) == (offers.isEmpty ? [] : [1] + (1..<offers.count).map { $0 }))
    }
    #expect(expectLoggedProbabilitiesMatchFrequencies(drawn, positions: 2) > 5)
  }

  @Test func anonymousVisitorsAreShownOnlyOffersValidToday() throws {
    let engine = try engine { catalogue in
      let i = catalogue.offers.firstIndex { $0.id == "savings-bundle" }!
      catalogue.offers[i].validUntil = "2025-10-31"
      let j = catalogue.offers.firstIndex { $0.id == "home-insurance" }!
      catalogue.offers[j].validFrom = "2025-12-01"
    }
    let request = DecisionRequest(customerId: 0, channel: .web, maxOffers: 50, explain: true, anonymous: true)
    let decision = try engine.decide(request, decisionId: "a", contacts: [])
    #expect(!decision.offers.isEmpty)
    #expect(!decision.offers.contains { $0.offerId == "savings-bundle" || $0.offerId == "home-insurance" })
    for id in ["savings-bundle", "home-insurance"] {
      let why = try #require(decision.suppressed.first { $0.offerId == id })
      #expect(why.code == .notValidNow && why.detail.hasPrefix("not valid today"), "\(why)")
    }
    let page = try engine.decide(
      request, decisionId: "a", contacts: [], slots: [SlotRequest(name: "s", contentType: "savings", count: 1)])
    #expect(!page.offers.contains { $0.offerId == "savings-bundle" })
  }

  @Test func aPageKeepsTheWeeklyLimit() throws {
    let engine = try engine { catalogue in
      catalogue.exploration = ExplorationPolicy(method: .greedy)
      catalogue.contactPolicy = ContactPolicy(maxOffersPerWeek: 3)
    }
    let slots = [
      SlotRequest(name: "hero", contentType: "", count: 2), SlotRequest(name: "side", contentType: "", count: 3),
    ]
    let request = DecisionRequest(customerId: 100_042, channel: .web, maxOffers: 50, explain: true)
    #expect(try engine.decide(request, decisionId: "w", contacts: [], slots: slots).offers.count == 3)
    // Two offers made this week already: one more allowed, on a page as in a decision.
    let made = (0..<2).map { _ in
      ContactRecord(decision: 7, offerId: "x", channel: .mobileApp, outcome: nil, timestampMillis: now - 86_400_000)
    }
    let page = try engine.decide(request, decisionId: "w", contacts: made, slots: slots)
    #expect(page.offers.count == 1)
    #expect(page.suppressed.contains { $0.code == .contactPolicy && $0.detail.hasPrefix("weekly limit: 1 more") })
  }
}
