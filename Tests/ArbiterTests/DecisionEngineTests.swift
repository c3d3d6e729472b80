import ArbiterCore
import ArbiterDecisioning
import ArbiterFeatureStore
import ArbiterDemoBank
import Testing

@Suite struct DecisionEngineTests {
  let engine: DecisionEngine

  init() throws { engine = try TestSupport.makeEngine() }

  func feature(_ name: String, of customer: UInt64) -> Float {
    engine.customers.storedValue(row: engine.customers.row(of: customer)!, feature: engine.schema.customerIndex(of: name)!)
  }

  @Test func ranksByPropensityTimesValueAndIsDeterministic() throws {
    let request = DecisionRequest(customerId: 100_042, channel: .contactCentre, maxOffers: 5)
    let a = try engine.decide(request, decisionId: "a")
    let b = try engine.decide(request, decisionId: "b")
    #expect(a.offers.map(\.offerId) == b.offers.map(\.offerId))
    #expect(a.offers.count == 5)
    for (i, offer) in a.offers.enumerated() {
      #expect(offer.rank == i + 1)
      #expect(abs(offer.score - offer.propensity * offer.value) < 1e-12)
      #expect(offer.propensity > 0 && offer.propensity < 1)
      if i > 0 { #expect(a.offers[i - 1].score >= offer.score) }
      #expect(!offer.treatment.agentScript.isEmpty, "contact centre offers carry an agent script")
      #expect(!offer.reasons.isEmpty)
    }
  }

  /// Golden: the committed bundle's ranking for two customers (seed 42). Changes only when the
  /// bundle or the engine's arithmetic changes.
  @Test func goldenRankings() throws {
    let first = try engine.decide(DecisionRequest(customerId: 100_042, channel: .contactCentre), decisionId: "g")
    #expect(first.offers.map(\.offerId) == ["bill-pay-switch", "personal-loan", "pension-top-up"])
    let second = try engine.decide(DecisionRequest(customerId: 100_007, channel: .web, maxOffers: 2), decisionId: "g")
    #expect(second.offers.map(\.offerId) == ["personal-loan", "savings-bundle"])
  }

  @Test func differentCustomersAndChannelsRankDifferently() throws {
    var rankings = Set<[String]>()
    for id in UInt64(100_000)..<100_040 {
      if let decision = try? engine.decide(DecisionRequest(customerId: id, channel: .contactCentre), decisionId: "x") {
        rankings.insert(decision.offers.map(\.offerId))
      }
    }
    #expect(rankings.count >= 10, "40 customers should not share a handful of rankings")
    let phone = try engine.decide(DecisionRequest(customerId: 100_042, channel: .contactCentre, maxOffers: 50), decisionId: "x")
    let atm = try engine.decide(DecisionRequest(customerId: 100_042, channel: .branch, maxOffers: 50), decisionId: "x")
    #expect(phone.offers.first!.propensity != atm.offers.first!.propensity)
  }

  @Test func neverOffersAHeldProductAndExplainsWhy() throws {
    var checked = 0
    for id in UInt64(100_000)..<100_300 {
      guard let decision = try? engine.decide(DecisionRequest(customerId: id, channel: .branch, maxOffers: 50, explain: true), decisionId: "x") else { continue }
      for offer in decision.offers {
        let catalogueOffer = engine.catalogue.offers[offer.offerIndex].definition
        if let held = catalogueOffer.heldFeature { #expect(feature(held, of: id) != 1, "customer \(id) already holds \(catalogueOffer.product)") }
        if let minAge = catalogueOffer.minAge { #expect(feature("age", of: id) >= Float(minAge)) }
        if let maxAge = catalogueOffer.maxAge { #expect(feature("age", of: id) <= Float(maxAge)) }
        checked += 1
      }
      let explained = Set(decision.offers.map(\.offerId) + decision.suppressed.map(\.offerId))
      #expect(explained.count == engine.catalogue.offers.count, "explain mode accounts for every offer")
      for suppression in decision.suppressed where suppression.code == .alreadyHeld {
        let held = engine.catalogue.offers[engine.catalogue.offerIndex[suppression.offerId]!].definition.heldFeature!
        #expect(feature(held, of: id) == 1)
      }
    }
    #expect(checked > 1_000)
  }

  @Test func noConsentNoOffers() throws {
    let without = (UInt64(100_000)..<103_000).first { feature("consent_phone", of: $0) == 0 }!
    let decision = try engine.decide(DecisionRequest(customerId: without, channel: .contactCentre, explain: true), decisionId: "x")
    #expect(decision.offers.isEmpty)
    #expect(decision.suppressed.contains { $0.code == .noConsent })
    #expect(!decision.suppressed.contains { $0.code == .rankedBelow })
  }

  @Test func callReasonWeighsOffers() throws {
    // A customer eligible for travel insurance over the phone.
    let id = (UInt64(100_000)..<103_000).first {
      feature("consent_phone", of: $0) == 1 && feature("holds_travel_insurance", of: $0) == 0 && feature("age", of: $0) >= 18
    }!
    let plain = try engine.decide(DecisionRequest(customerId: id, channel: .contactCentre, maxOffers: 50), decisionId: "x")
    let travel = try engine.decide(DecisionRequest(customerId: id, channel: .contactCentre, callReason: "travel", maxOffers: 50), decisionId: "x")
    let before = plain.offers.first { $0.offerId == "travel-insurance" }!
    let after = travel.offers.first { $0.offerId == "travel-insurance" }!
    #expect(after.score == before.score * 2.2)
    #expect(after.rank <= before.rank)
    #expect(after.reasons.contains { $0.code == "CONTEXT_WEIGHT" })
  }

  @Test func badInputIsNamed() {
    #expect(throws: ArbiterError(.notFound, "customer 42 not found")) {
      try engine.decide(DecisionRequest(customerId: 42, channel: .web), decisionId: "x")
    }
    #expect(throws: ArbiterError(.invalidArgument, "customer_id is required (0 is not a customer)")) {
      try engine.decide(DecisionRequest(customerId: 0, channel: .web), decisionId: "x")
    }
    #expect(throws: ArbiterError(.invalidArgument, "max_offers must be between 1 and 50, got 51")) {
      try engine.decide(DecisionRequest(customerId: 100_001, channel: .web, maxOffers: 51), decisionId: "x")
    }
  }

  @Test func reasonPhrasesDescribeTheCustomer() throws {
    // Childless customers must never hear that they have older children.
    for id in UInt64(100_000)..<100_200 where feature("num_children", of: id) == 0 {
      guard let decision = try? engine.decide(DecisionRequest(customerId: id, channel: .branch, maxOffers: 50), decisionId: "x") else { continue }
      for reason in decision.offers.flatMap(\.reasons) where reason.feature == "oldest_child_age" || reason.feature == "num_children" {
        #expect(reason.phrase == "young children, or none" || reason.phrase == "no children")
      }
    }
  }
}

@Suite struct DemoBankTests {
  @Test func populationIsDeterministicAndPlausible() {
    let a = DemoPopulation(seed: 42).customers(count: 2_000)
    let b = DemoPopulation(seed: 42).customers(count: 2_000)
    let c = DemoPopulation(seed: 43).customers(count: 2_000)
    func bits(_ records: [CustomerRecord]) -> [[UInt32]] { records.map { $0.values.map(\.bitPattern) } }
    #expect(bits(a) == bits(b) && a.map(\.displayName) == b.map(\.displayName))
    #expect(bits(a) != bits(c))
    let schema = DemoBankSchema.schema
    let age = schema.customerIndex(of: "age")!
    #expect(a.allSatisfy { $0.values[age] >= 18 && $0.values[age] <= 90 })
    let internalState = Set(schema.customerFeatures.enumerated().filter { CompiledDerivations.isInternalState($0.element) }.map(\.offset))
    #expect(internalState.count == 2)
    #expect(schema.width == 64)
    #expect(a.allSatisfy { record in record.values.enumerated().allSatisfy { internalState.contains($0.offset) || !$0.element.isNaN } })
    #expect(DemoBankCatalogue.document.offers.count >= 20)
  }

  @Test func historyLogsItsProbabilitiesAndOnlyEligibleOffers() throws {
    let dataset = try DemoDataset.generate(seed: 5, customers: 2_000)
    let rules = try EligibilityRules(catalogue: dataset.catalogue, schema: dataset.schema)
    let index = Dictionary(uniqueKeysWithValues: dataset.catalogue.offers.enumerated().map { ($1.id, $0) })
    let byId = Dictionary(uniqueKeysWithValues: dataset.customers.map { ($0.id, $0) })
    for record in dataset.history {
      #expect(record.probability > 0 && record.probability <= 1.0 / 7)
      byId[record.customerId]!.values.withUnsafeBufferPointer { vector in
        #expect(rules.check(offer: index[record.offerId]!, customer: vector, channel: record.channel, consentGiven: rules.consents(vector, on: record.channel)) == nil)
      }
    }
    let rate = Double(dataset.history.filter(\.accepted).count) / Double(dataset.history.count)
    #expect(rate > 0.02 && rate < 0.2)
  }
}
