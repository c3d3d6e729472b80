import ArbiterCore
import ArbiterDecisioning
import ArbiterDemoBank
import ArbiterFeatureStore
import Testing

@Suite struct DecisionEngineTests {
  let engine: DecisionEngine

  init() throws { engine = try TestSupport.makeEngine() }

  func feature(_ name: String, of customer: UInt64) -> Float {
    engine.customers.storedValue(
      row: engine.customers.row(of: customer)!, feature: engine.schema.customerIndex(of: name)!)
  }

  @Test func ranksByPriorityAndIsDeterministic() throws {
    let request = DecisionRequest(customerId: 100_042, channel: .contactCentre, maxOffers: 5)
    let a = try engine.decide(request, decisionId: "a")
    let b = try engine.decide(request, decisionId: "a")
    #expect(a.offers.map(\.offerId) == b.offers.map(\.offerId), "the same decision id draws the same offers")
    #expect((1...5).contains(a.offers.count))
    for (i, offer) in a.offers.enumerated() {
      #expect(offer.rank == i + 1)
      // priority = p × value × context weight × lever − cost − shadow price;
      // an inbound call costs a tenth of a contact.
      #expect(offer.channelCost == 6)
      #expect(
        abs(
          offer.score
            - (offer.propensity * offer.value * offer.contextWeight * offer.lever - offer.channelCost
              - offer.shadowPrice)) < 1e-9)
      #expect(offer.score > 0)
      #expect(offer.propensity > 0 && offer.propensity < 1)
      // A greedy draw (the likelier branch of epsilon-greedy) takes the best remaining offer.
      if i > 0, offer.probability > 0.5 {
        #expect(a.offers[i - 1].score >= offer.score || a.offers[i - 1].probability < 0.5)
      }
      #expect(!offer.treatment.agentScript.isEmpty, "contact centre offers carry an agent script")
      #expect(!offer.reasons.isEmpty)
    }
  }

  /// Golden: the committed bundle's ranking for two customers (seed 42). Changes only when the
  /// bundle or the engine's arithmetic changes.
  @Test func goldenRankings() throws {
    let first = try engine.decide(DecisionRequest(customerId: 100_042, channel: .web), decisionId: "g")
    #expect(first.offers.map(\.offerId) == ["bill-pay-switch", "personal-loan", "pension-top-up"])
    let second = try engine.decide(DecisionRequest(customerId: 100_007, channel: .web, maxOffers: 2), decisionId: "g")
    #expect(second.offers.map(\.offerId) == ["savings-bundle", "personal-loan"])
  }

  @Test func differentCustomersAndChannelsRankDifferently() throws {
    var rankings = Set<[String]>()
    for id in UInt64(100_000)..<100_040 {
      if let decision = try? engine.decide(DecisionRequest(customerId: id, channel: .contactCentre), decisionId: "x") {
        rankings.insert(decision.offers.map(\.offerId))
      }
    }
    #expect(rankings.count >= 10, "40 customers should not share a handful of rankings")
    // The channel is a model input: the same offer scores differently by phone and on the web.
    func propensities(_ channel: Channel) throws -> [String: Double] {
      let decision = try engine.decide(
        DecisionRequest(customerId: 100_042, channel: channel, maxOffers: 50, explain: true), decisionId: "x")
      var all: [String: Double] = [:]
      for offer in decision.offers { all[offer.offerId] = offer.propensity }
      for suppression in decision.suppressed { if let p = suppression.propensity { all[suppression.offerId] = p } }
      return all
    }
    let phone = try propensities(.contactCentre), web = try propensities(.web)
    let shared = phone.keys.filter { web[$0] != nil }
    #expect(!shared.isEmpty)
    #expect(shared.allSatisfy { phone[$0] != web[$0] })
  }

  @Test func neverOffersAHeldProductAndExplainsWhy() throws {
    var checked = 0
    for id in UInt64(100_000)..<100_300 {
      guard
        let decision = try? engine.decide(
          DecisionRequest(customerId: id, channel: .web, maxOffers: 50, explain: true), decisionId: "x")
      else { continue }
      for offer in decision.offers {
        let catalogueOffer = engine.catalogue.offers[offer.offerIndex].definition
        if let held = catalogueOffer.heldFeature {
          #expect(feature(held, of: id) != 1, "customer \(id) already holds \(catalogueOffer.product)")
        }
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
    let decision = try engine.decide(
      DecisionRequest(customerId: without, channel: .contactCentre, explain: true), decisionId: "x")
    #expect(decision.offers.isEmpty)
    #expect(decision.suppressed.contains { $0.code == .noConsent })
    #expect(!decision.suppressed.contains { $0.code == .rankedBelow })
  }

  @Test func callReasonWeighsOffers() throws {
    // A customer offered travel insurance on the web both without and with the travel context.
    var found: (RankedOffer, RankedOffer)?
    for id in UInt64(100_000)..<103_000
    where feature("holds_travel_insurance", of: id) == 0 && feature("age", of: id) >= 18 {
      let plain = try engine.decide(DecisionRequest(customerId: id, channel: .web, maxOffers: 50), decisionId: "x")
      let travel = try engine.decide(
        DecisionRequest(customerId: id, channel: .web, page: "travel", maxOffers: 50), decisionId: "x")
      if let before = plain.offers.first(where: { $0.offerId == "travel-insurance" }),
        let after = travel.offers.first(where: { $0.offerId == "travel-insurance" })
      {
        found = (before, after)
        break
      }
    }
    let (before, after) = try #require(found)
    // score = p × value × context weight × lever − cost − shadow price; the travel page weighs it × 2.
    #expect(after.contextWeight == 2 && before.contextWeight == 1)
    #expect(
      abs(
        (after.score + after.channelCost + after.shadowPrice) - (before.score + before.channelCost + before.shadowPrice)
          * 2) < 1e-9)
    #expect(after.rank <= before.rank)
    #expect(after.reasons.contains { $0.code == "CONTEXT_WEIGHT" })
  }

  @Test func badInputIsNamed() {
    #expect(throws: ArbiterError(.notFound, "customer 42 not found")) {
      try engine.decide(DecisionRequest(customerId: 42, channel: .web), decisionId: "x")
    }
    // The domain speaks domain terms; the doors name their wire fields (GRPCServiceTests).
    #expect(throws: ArbiterError(.invalidArgument, "a customer id is required (0 is not a customer)")) {
      try engine.decide(DecisionRequest(customerId: 0, channel: .web), decisionId: "x")
    }
    #expect(throws: ArbiterError(.invalidArgument, "the number of offers must be between 1 and 50, got 51")) {
      try engine.decide(DecisionRequest(customerId: 100_001, channel: .web, maxOffers: 51), decisionId: "x")
    }
  }

  @Test func reasonPhrasesDescribeTheCustomer() throws {
    // Childless customers must never hear that they have older children.
    for id in UInt64(100_000)..<100_200 where feature("num_children", of: id) == 0 {
      guard
        let decision = try? engine.decide(
          DecisionRequest(customerId: id, channel: .web, maxOffers: 50), decisionId: "x")
      else { continue }
      for reason in decision.offers.flatMap(\.reasons)
      where reason.feature == "oldest_child_age" || reason.feature == "num_children" {
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
    let internalState = Set(
      schema.customerFeatures.enumerated().filter { CompiledDerivations.isInternalState($0.element) }.map(\.offset))
    #expect(internalState.count == 2)
    #expect(schema.width == 64)
    #expect(
      a.allSatisfy { record in
        record.values.enumerated().allSatisfy { internalState.contains($0.offset) || !$0.element.isNaN }
      })
    #expect(DemoBankCatalogue.document.offers.count >= 20)
  }

  @Test func historyLogsItsProbabilitiesAndOnlyEligibleOffers() throws {
    let dataset = try DemoDataset.generate(seed: 5, customers: 2_000)
    let rules = try EligibilityRules(catalogue: dataset.catalogue, schema: dataset.schema)
    let index = Dictionary(uniqueKeysWithValues: dataset.catalogue.offers.enumerated().map { ($1.id, $0) })
    let byId = Dictionary(uniqueKeysWithValues: dataset.customers.map { ($0.id, $0) })
    for record in dataset.history {
      #expect(record.probability > 0 && record.probability <= 1.0 / 7)
      let context: [Float] = [Float(record.channel.ordinal)]
      byId[record.customerId]!.values.withUnsafeBufferPointer { vector in
        context.withUnsafeBufferPointer { context in
          #expect(
            rules.check(
              offer: index[record.offerId]!, customer: vector, context: context, channel: record.channel,
              consents: DemoBankSchema.consents(of: vector, schema: dataset.schema), nowDays: 0) == nil)
        }
      }
    }
    let rate = Double(dataset.history.filter(\.accepted).count) / Double(dataset.history.count)
    #expect(rate > 0.02 && rate < 0.2)
  }
}
