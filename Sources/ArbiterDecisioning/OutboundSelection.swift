import ArbiterCore
import ArbiterFeatureStore
import ArbiterModels
import Foundation

/// What an outbound campaign asks: a channel, who may be contacted, and the limits.
public struct OutboundRequest: Sendable {
  public var channel: Channel
  /// Customers to consider; empty means every stored customer.
  public var customerIds: [UInt64]
  /// Total contact cost allowed (nil: no limit).
  public var budget: Double?
  /// Contacts allowed (nil: no limit), e.g. the call centre's outbound calls for the day.
  public var capacity: Int?
  /// Offers the campaign may make (empty: any).
  public var offerIds: Set<String>

  public init(channel: Channel, customerIds: [UInt64] = [], budget: Double? = nil, capacity: Int? = nil, offerIds: Set<String> = []) {
    self.channel = channel
    self.customerIds = customerIds
    self.budget = budget
    self.capacity = capacity
    self.offerIds = offerIds
  }
}

/// One customer chosen for one offer.
public struct OutboundAssignment: Sendable, Hashable {
  public var customerId: UInt64
  public var offerId: String
  public var offerIndex: Int
  public var propensity: Double
  /// propensity × value × lever.
  public var expectedValue: Double
  public var cost: Double
  /// The offer's treatment for the channel, filled in for the customer.
  public var treatment: RenderedTreatment
}

/// The campaign: who gets which offer, and what it is expected to bring.
public struct OutboundPlan: Sendable {
  public var assignments: [OutboundAssignment]
  /// Customers with at least one offer worth its contact cost.
  public var candidates: Int
  public var considered: Int
  public var expectedResponses: Double
  public var expectedValue: Double
  public var totalCost: Double
  /// What ended the selection: "budget", "capacity" or "candidates".
  public var stoppedBy: String
}

extension DecisionEngine {
  /// Chooses who gets which offer through `request.channel` to maximise expected value net of
  /// contact cost, under the total budget, the contact capacity and the offers' quotas (shared
  /// with inbound decisions and reserved here). Each customer gets at most one offer; the rules,
  /// consent, contact policy and control groups apply as in ``decide(_:decisionId:history:slots:)``.
  ///
  /// Customers are taken greedily by net value per unit of the limiting resources (cost share
  /// of the budget plus share of the capacity); a customer whose best offer has run out of quota
  /// falls back to their next best.
  public func selectOutbound(
    _ request: OutboundRequest, history: (UInt64) -> [InteractionEntry] = { _ in [] }
  ) throws(ArbiterError) -> OutboundPlan {
    if let budget = request.budget, !(budget.isFinite && budget >= 0) { throw ArbiterError(.invalidArgument, "budget must be a finite number >= 0") }
    if let capacity = request.capacity, capacity < 0 { throw ArbiterError(.invalidArgument, "capacity must be >= 0") }
    for id in request.offerIds where catalogue.offerIndex[id] == nil { throw ArbiterError(.invalidArgument, "offer '\(id)' is not in the catalogue") }
    let ids = request.customerIds.isEmpty ? customers.customerIds() : request.customerIds
    let now = clock()
    let nowMillis = Int64((now * 86_400_000).rounded())
    let channel = request.channel
    let rules = catalogue.rules

    // Each customer's worthwhile offers, best first: (net value, offer, propensity, cost).
    var options: [[(net: Double, offer: Int, propensity: Double, cost: Double)]] = []
    var owners: [UInt64] = []
    var context = [Float](repeating: .nan, count: schema.contextFeatures.count)
    if let feature = catalogue.channelContextFeature { context[feature] = Float(channel.ordinal) }
    var buffer = [Float](repeating: 0, count: schema.width)
    for id in ids {
      guard let row = customers.row(of: id) else { throw ArbiterError(.notFound, "customer \(id) not found") }
      buffer.withUnsafeMutableBufferPointer { customers.read(row: row, into: $0, nowDays: now) }
      let past = history(id)
      let policy = ContactPolicyCheck(catalogue: catalogue, channel: channel, history: past.map(ContactRecord.init), nowMillis: nowMillis)
      if policy.offersLeftThisWeek == 0 { continue }
      var mine: [(net: Double, offer: Int, propensity: Double, cost: Double)] = []
      buffer.withUnsafeBufferPointer { x in
        context.withUnsafeBufferPointer { c in
          guard rules.consents(x, on: channel) else { return }
          ScoringRow.prepare(catalogue.scoringLayout, customer: x, context: c) { scoringRow in
            for offer in catalogue.offers {
              if !request.offerIds.isEmpty && !request.offerIds.contains(offer.definition.id) { continue }
              if rules.check(offer: offer.index, customer: x, context: c, channel: channel, consentGiven: true, nowDays: now) != nil { continue }
              if policy.blocked(offer: offer.index) != nil { continue }
              if catalogue.isControl(customer: id, offer: offer.index, nowDays: now) { continue }
              // The bank starts this contact: the whole contact cost counts.
              let cost = catalogue.arbitration.subtractChannelCost ? offer.costs[channel.ordinal] : 0
              let p = offer.model.propensity(row: scoringRow, customer: x, context: c)
              let net = p * offer.definition.value * offer.definition.lever - cost
              if net > 0 { mine.append((net, offer.index, p, cost)) }
            }
          }
        }
      }
      guard !mine.isEmpty else { continue }
      mine.sort { $0.net > $1.net || ($0.net == $1.net && $0.offer < $1.offer) }
      options.append(mine)
      owners.append(id)
    }

    // Greedy by net value per unit of the limiting resources.
    let budget = request.budget, capacity = request.capacity
    func density(_ option: (net: Double, offer: Int, propensity: Double, cost: Double)) -> Double {
      var use = 0.0
      if let budget, budget > 0 { use += option.cost / budget }
      if let capacity, capacity > 0 { use += 1 / Double(capacity) }
      return use > 0 ? option.net / use : option.net
    }
    var heap = MaxHeap<(score: Double, customer: Int, choice: Int)> { a, b in
      a.score < b.score || (a.score == b.score && (a.customer, a.choice) > (b.customer, b.choice))
    }
    for (k, mine) in options.enumerated() { heap.push((density(mine[0]), k, 0)) }
    var plan = OutboundPlan(
      assignments: [], candidates: options.count, considered: ids.count, expectedResponses: 0, expectedValue: 0, totalCost: 0, stoppedBy: "candidates")
    var spent = 0.0
    while let top = heap.pop() {
      if let capacity, plan.assignments.count >= capacity {
        plan.stoppedBy = "capacity"
        break
      }
      let option = options[top.customer][top.choice]
      if let budget, spent + option.cost > budget {
        plan.stoppedBy = "budget"
        continue  // a cheaper contact may still fit
      }
      let offer = catalogue.offers[option.offer]
      if let quota = offer.quota, !quota.reserve(1, at: now) {
        if top.choice + 1 < options[top.customer].count {
          heap.push((density(options[top.customer][top.choice + 1]), top.customer, top.choice + 1))
        }
        continue
      }
      spent += option.cost
      let customerId = owners[top.customer]
      let row = customers.row(of: customerId)!
      buffer.withUnsafeMutableBufferPointer { customers.read(row: row, into: $0, nowDays: now) }
      let template = offer.treatments[channel.ordinal]!
      let name = offer.definition.name, displayName = customers.displayName(row: row)
      let treatment = buffer.withUnsafeBufferPointer { x in
        RenderedTreatment(
          title: template.title.render(displayName: displayName, offerName: name, customer: x),
          message: template.message.render(displayName: displayName, offerName: name, customer: x),
          agentScript: template.script?.render(displayName: displayName, offerName: name, customer: x) ?? "")
      }
      plan.assignments.append(OutboundAssignment(
        customerId: customerId, offerId: offer.definition.id, offerIndex: offer.index, propensity: option.propensity,
        expectedValue: option.propensity * offer.definition.value * offer.definition.lever, cost: option.cost, treatment: treatment))
      plan.expectedResponses += option.propensity
      plan.expectedValue += option.propensity * offer.definition.value * offer.definition.lever
    }
    plan.totalCost = spent
    return plan
  }
}

/// A binary max-heap under `less`.
struct MaxHeap<Element> {
  private var items: [Element] = []
  let less: (Element, Element) -> Bool

  init(less: @escaping (Element, Element) -> Bool) { self.less = less }

  mutating func push(_ item: Element) {
    items.append(item)
    var i = items.count - 1
    while i > 0 {
      let parent = (i - 1) / 2
      guard less(items[parent], items[i]) else { break }
      items.swapAt(parent, i)
      i = parent
    }
  }

  mutating func pop() -> Element? {
    guard !items.isEmpty else { return nil }
    items.swapAt(0, items.count - 1)
    let top = items.removeLast()
    var i = 0
    while true {
      let l = 2 * i + 1, r = l + 1
      var largest = i
      if l < items.count && less(items[largest], items[l]) { largest = l }
      if r < items.count && less(items[largest], items[r]) { largest = r }
      if largest == i { break }
      items.swapAt(i, largest)
      i = largest
    }
    return top
  }
}
