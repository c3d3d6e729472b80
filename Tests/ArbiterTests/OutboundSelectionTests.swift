import ArbiterAPI
import ArbiterCore
import ArbiterDecisioning
import ArbiterModels
import ArbiterServer
import ArbiterService
import Foundation
import GRPCCore
import Testing

/// Outbound campaigns: the channel's capacity, the control group, a customer's fallback under
/// the budget, and the dry run that changes nothing.
@Suite struct OutboundSelectionTests {
  static let server = Result { try TestSupport.makeServer() }

  /// An engine over the demo customers with the demo bundle's catalogue changed by `change`.
  func engine(_ change: (inout CatalogueDocument) -> Void) throws -> DecisionEngine {
    try TestSupport.engine(over: Self.server.get()) { catalogue in
      catalogue.exploration = ExplorationPolicy(method: .greedy)
      catalogue.controlGroup = nil
      change(&catalogue)
    }
  }

  @Test func theChannelsCapacityBoundsACampaign() throws {
    // 30 agent minutes an hour, 3 a call: ten outbound calls, however many are worth making.
    let engine = try engine { catalogue in
      catalogue.capacity = [ChannelCapacity(channel: .contactCentre, unitsPerHour: 30, unitsPerOffer: 3)]
      catalogue.arbitration.pacing = false
    }
    let plan = try engine.selectOutbound(OutboundRequest(channel: .contactCentre))
    #expect(plan.candidates > 10)
    #expect(plan.assignments.count == 10 && plan.stoppedBy == "capacity")
    let budget = try #require(engine.catalogue.capacityBudgets[Channel.contactCentre.ordinal])
    #expect(budget.used(at: TestSupport.fixedClockDays) == 30)
    // The inbound calls of the hour find it used up too.
    let inbound = try engine.decide(
      DecisionRequest(customerId: 100_042, channel: .contactCentre, explain: true), decisionId: "i", contacts: [])
    #expect(inbound.offers.isEmpty && inbound.suppressed.contains { $0.code == .capacity })
  }

  @Test func aCustomerWhoseBestOfferIsOverBudgetGetsTheirNext() throws {
    // The bill-pay switch is everyone's best by far (lever 50) but costs 40 to send.
    let engine = try engine { catalogue in
      let i = catalogue.offers.firstIndex { $0.id == "bill-pay-switch" }!
      catalogue.offers[i].lever = 50
      catalogue.offers[i].costs = ["email": 40]
    }
    let unlimited = try engine.selectOutbound(
      OutboundRequest(channel: .email, customerIds: Array(engine.customers.customerIds().prefix(300))))
    let customer = try #require(unlimited.assignments.first { $0.offerId == "bill-pay-switch" }).customerId
    let plan = try engine.selectOutbound(OutboundRequest(channel: .email, customerIds: [customer], budget: 30))
    let assignment = try #require(plan.assignments.first, "the customer gets their next offer, which fits the budget")
    #expect(assignment.offerId != "bill-pay-switch" && assignment.cost <= 30 && plan.totalCost == assignment.cost)
  }

  @Test func controlGroupCustomersAreLoggedForLift() throws {
    let engine = try engine { catalogue in
      catalogue.controlGroup = ControlGroupPolicy(share: 0.3, periodDays: 30, salt: "outbound")
    }
    let plan = try engine.selectOutbound(OutboundRequest(channel: .email, capacity: 200))
    #expect(plan.assignments.count == 200 && !plan.controls.isEmpty)
    for held in plan.controls {
      let offer = try #require(engine.catalogue.offerIndex[held.offerId])
      #expect(engine.catalogue.isControl(customer: held.customerId, offer: offer, nowDays: TestSupport.fixedClockDays))
      #expect(held.net > 0)
    }
    for assignment in plan.assignments {
      #expect(
        !engine.catalogue.isControl(
          customer: assignment.customerId, offer: assignment.offerIndex, nowDays: TestSupport.fixedClockDays))
    }
    // About the control share of the customers the selection reached are held out.
    #expect(Double(plan.controls.count) / Double(plan.assignments.count) > 0.1)
  }

  @Test func aCommittedCampaignLogsItsControlGroup() throws {
    let path = try TestSupport.temporaryDirectory() + "/log.jsonl"
    let server = try TestSupport.makeServer(logPath: path)
    // The demo catalogue holds out 5% of customers per offer group.
    let (plan, ids) = try server.live.selectOutbound(OutboundRequest(channel: .email, capacity: 500))
    #expect(ids.count == plan.assignments.count && !plan.controls.isEmpty)
    server.live.log.flush()
    let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
    let held = lines.filter { $0.contains("\"control\":[") }
    let customersHeld = Set(plan.controls.map(\.customerId))
    #expect(!held.isEmpty && held.count <= customersHeld.count)
    for customer in customersHeld {
      #expect(held.contains { $0.contains("\"customer_id\":\(customer),") }, "customer \(customer)'s holdout is logged")
    }
  }

  @Test func aTotalsOnlyCampaignIsADryRun() async throws {
    let path = try TestSupport.temporaryDirectory() + "/log.jsonl"
    let server = try TestSupport.makeServer(logPath: path)
    let retention = try #require(server.live.snapshot.engine.catalogue.offerIndex["retention-rate-offer"])
    let quota = try #require(server.live.snapshot.engine.catalogue.offers[retention].quota)
    try await withInProcessClient(server) { client in
      let decisions = Arbiter_V1_DecisionService.Client(wrapping: client)
      let request = Arbiter_V1_SelectOutboundRequest.with {
        $0.channel = .email; $0.capacity = 400
      }
      let first = try await decisions.selectOutbound(request)
      let second = try await decisions.selectOutbound(request)
      #expect(first.selected == 400 && first.assignments.isEmpty)
      #expect(second.selected == first.selected && second.expectedValue == first.expectedValue, "nothing was used up")
      #expect(server.live.log.counts.decisions == 0)
      #expect(quota.used(at: TestSupport.fixedClockDays) == 0)
      // Committed: the same campaign logs its contacts and uses their frequency caps and quota.
      let committed = try await decisions.selectOutbound(
        .with {
          $0.channel = .email; $0.capacity = 400; $0.includeAssignments = true
        })
      #expect(committed.selected == first.selected && committed.assignments.count == 400)
      #expect(committed.assignments.allSatisfy { !$0.decisionID.isEmpty })
      #expect(server.live.log.counts.decisions >= 400)
      let customer = try #require(committed.assignments.first).customerID
      #expect(server.live.log.recent(customerId: customer, limit: 10).count == 1)
      let retained = committed.assignments.filter { $0.offerID == "retention-rate-offer" }.count
      #expect(quota.used(at: TestSupport.fixedClockDays) == Double(retained))
    }
  }
}
