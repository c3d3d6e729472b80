import ArbiterCore
import ArbiterFeatureStore
import ArbiterModels
import Foundation

/// What an outbound campaign asks: a channel, who may be contacted, and the limits.
public struct OutboundRequest: Sendable {
  /// The outbound channel the campaign contacts customers through (e.g. e-mail, SMS, an outbound call).
  public var channel: Channel
  /// Customers to consider; empty means every stored customer.
  public var customerIds: [UInt64]
  /// Total contact cost allowed (nil: no limit).
  public var budget: Double?
  /// Contacts allowed (nil: no limit), e.g. the call centre's outbound calls for the day.
  public var capacity: Int?
  /// Offers the campaign may make (empty: any).
  public var offerIds: Set<String>

  /// Creates a campaign request; by default every customer and offer, with no budget or contact limit.
  public init(
    channel: Channel, customerIds: [UInt64] = [], budget: Double? = nil, capacity: Int? = nil,
    offerIds: Set<String> = []
  ) {
    self.channel = channel
    self.customerIds = customerIds
    self.budget = budget
    self.capacity = capacity
    self.offerIds = offerIds
  }
}

/// One customer chosen for one offer.
public struct OutboundAssignment: Sendable, Hashable {
  /// The customer to contact.
  public var customerId: UInt64
  /// The offer to make them.
  public var offerId: String
  /// The offer's index in the compiled catalogue.
  public var offerIndex: Int
  /// The model's probability, in [0, 1], that the customer accepts.
  public var propensity: Double
  /// propensity × value × lever.
  public var expectedValue: Double
  /// The contact cost on the campaign's channel, in the catalogue's currency.
  public var cost: Double
  /// The offer's treatment for the channel, filled in for the customer.
  public var treatment: RenderedTreatment
}

/// A customer of the campaign's control group: held out of an offer they would have been
/// chosen for at this point of the selection, logged (with what it would have brought) so that
/// the campaign's lift can be measured.
public struct OutboundControl: Sendable, Hashable {
  /// The customer held out.
  public var customerId: UInt64
  /// The offer they were held out of.
  public var offerId: String
  /// The model's probability that they would have accepted it.
  public var propensity: Double
  /// propensity × value × lever − cost: what the contact would have netted.
  public var net: Double
}

/// The campaign: who gets which offer, and what it is expected to bring.
public struct OutboundPlan: Sendable {
  /// The contacts chosen, in the order the selection took them.
  public var assignments: [OutboundAssignment]
  /// Customers held out by the control group where the selection would have chosen them.
  public var controls: [OutboundControl] = []
  /// Customers with at least one offer worth its contact cost.
  public var candidates: Int
  /// Customers considered (those asked for, or every stored customer).
  public var considered: Int
  /// The sum of the chosen contacts' propensities: how many acceptances to expect.
  public var expectedResponses: Double
  /// The sum of the chosen contacts' expected values, in the catalogue's currency.
  public var expectedValue: Double
  /// The sum of the chosen contacts' costs, in the catalogue's currency.
  public var totalCost: Double
  /// What ended the selection: "budget", "capacity" (the request's contacts or the channel's
  /// capacity) or "candidates".
  public var stoppedBy: String
}

/// One offer worth making to one customer, in the outbound selection.
struct OutboundOption {
  var net: Double
  var offer: Int
  var propensity: Double
  var cost: Double
  /// The customer is in the offer group's control group: logged, never contacted.
  var control: Bool
}

extension DecisionEngine {
  /// Chooses who gets which offer through `request.channel` to maximise expected value net of
  /// contact cost, under the total budget, the contact capacity, the channel's capacity budget
  /// and the offers' quotas (shared with inbound decisions). Each customer gets at most one
  /// offer; the rules, consent, contact policy and control groups apply as in
  /// ``decide(_:decisionId:history:slots:)``.
  ///
  /// Customers are taken greedily by net value per unit of the limiting resources (cost share
  /// of the budget plus share of the capacity); a customer whose best offer has run out of quota
  /// or does not fit the remaining budget falls back to their next best. An option held out by
  /// the control group takes its turn like the others and is recorded in ``OutboundPlan/controls``
  /// without using anything. With `commit` false (a dry run: what would this campaign do?) quota
  /// and capacity are counted but not reserved, so nothing changes.
  public func selectOutbound(
    _ request: OutboundRequest, commit: Bool = true, history: (UInt64) -> [InteractionEntry] = { _ in [] }
  ) throws(ArbiterError) -> OutboundPlan {
    if let budget = request.budget, !(budget.isFinite && budget >= 0) {
      throw ArbiterError(.invalidArgument, "the budget must be a finite number >= 0")
    }
    if let capacity = request.capacity, capacity < 0 {
      throw ArbiterError(.invalidArgument, "the capacity must be >= 0")
    }
    for id in request.offerIds where catalogue.offerIndex[id] == nil {
      throw ArbiterError(.invalidArgument, "offer '\(id)' is not in the catalogue")
    }
    let ids = request.customerIds.isEmpty ? customers.customerIds() : request.customerIds
    let (options, owners) = try outboundOptions(request, ids: ids, history: history)
    var plan = OutboundPlan(
      assignments: [], candidates: options.count, considered: ids.count, expectedResponses: 0, expectedValue: 0,
      totalCost: 0,
      stoppedBy: "candidates")
    var selection = OutboundSelection(
      engine: self, request: request, options: options, owners: owners, commit: commit, now: clock())
    selection.run(into: &plan)
    return plan
  }

  /// Each customer's options worth their contact cost, best first, and whose they are.
  private func outboundOptions(
    _ request: OutboundRequest, ids: [UInt64], history: (UInt64) -> [InteractionEntry]
  ) throws(ArbiterError) -> ([[OutboundOption]], [UInt64]) {
    let now = clock()
    let nowMillis = Int64((now * 86_400_000).rounded())
    let channel = request.channel
    var options: [[OutboundOption]] = []
    var owners: [UInt64] = []
    var context = [Float](repeating: .nan, count: schema.contextFeatures.count)
    if let feature = catalogue.channelContextFeature { context[feature] = Float(channel.ordinal) }
    var buffer = [Float](repeating: 0, count: schema.width)
    for id in ids {
      guard let row = customers.row(of: id) else { throw ArbiterError(.notFound, "customer \(id) not found") }
      // As in a decision: consents from the ledger, and no stored feature without profiling consent.
      let consents = customers.consents(row: row)
      if consents.allows(channel, .profiling) {
        buffer.withUnsafeMutableBufferPointer { customers.read(row: row, into: $0, nowDays: now) }
      } else {
        for i in buffer.indices { buffer[i] = .nan }
      }
      let policy = ContactPolicyCheck(
        catalogue: catalogue, channel: channel, history: history(id).map(ContactRecord.init), nowMillis: nowMillis)
      if policy.offersLeftThisWeek == 0 { continue }
      var mine = buffer.withUnsafeBufferPointer { x in
        context.withUnsafeBufferPointer { c in
          outboundOptions(request, customer: id, consents: consents, x, c, policy: policy, now: now)
        }
      }
      guard !mine.isEmpty else { continue }
      mine.sort { $0.net > $1.net || ($0.net == $1.net && $0.offer < $1.offer) }
      options.append(mine)
      owners.append(id)
    }
    return (options, owners)
  }

  /// One customer's options: eligible offers netting more than their contact cost.
  private func outboundOptions(
    _ request: OutboundRequest, customer id: UInt64, consents: ConsentSet, _ x: UnsafeBufferPointer<Float>,
    _ c: UnsafeBufferPointer<Float>, policy: ContactPolicyCheck, now: Double
  ) -> [OutboundOption] {
    let rules = catalogue.rules, channel = request.channel
    var mine: [OutboundOption] = []
    ScoringRow.prepare(layout: catalogue.scoringLayout, customer: x, context: c) { scoringRow in
      for offer in catalogue.offers {
        if !request.offerIds.isEmpty && !request.offerIds.contains(offer.definition.id) { continue }
        if rules.check(offer: offer.index, customer: x, context: c, channel: channel, consents: consents, nowDays: now)
          != nil
        {
          continue
        }
        if policy.blocked(offer: offer.index) != nil { continue }
        // The bank starts this contact: the whole contact cost counts.
        let cost = catalogue.arbitration.subtractChannelCost ? offer.costs[channel.ordinal] : 0
        let p = offer.model.propensity(row: scoringRow, customer: x, context: c)
        let net = p * offer.definition.value * offer.definition.lever - cost
        guard net > 0 else { continue }
        let control = catalogue.isControl(customer: id, offer: offer.index, nowDays: now)
        mine.append(OutboundOption(net: net, offer: offer.index, propensity: p, cost: cost, control: control))
      }
    }
    return mine
  }
}

/// The greedy pass of an outbound selection over every customer's options (see
/// ``DecisionEngine/selectOutbound(_:commit:history:)``).
struct OutboundSelection {
  let engine: DecisionEngine
  let request: OutboundRequest
  let options: [[OutboundOption]]
  let owners: [UInt64]
  /// Reserve quota and capacity (a committed run), or only count them (a dry run).
  let commit: Bool
  let now: Double
  private var heap: MaxHeap<(score: Double, customer: Int, choice: Int)>
  private var spent = 0.0
  /// A dry run's counts: per offer index, and the channel's units.
  private var counted: [Int: Int] = [:]
  private var countedUnits = 0.0

  init(
    engine: DecisionEngine, request: OutboundRequest, options: [[OutboundOption]], owners: [UInt64], commit: Bool,
    now: Double
  ) {
    self.engine = engine
    self.request = request
    self.options = options
    self.owners = owners
    self.commit = commit
    self.now = now
    heap = MaxHeap { a, b in
      a.score < b.score || (a.score == b.score && (a.customer, a.choice) > (b.customer, b.choice))
    }
  }

  /// Net value per unit of the limiting resources.
  private func density(_ option: OutboundOption) -> Double {
    var use = 0.0
    if let budget = request.budget, budget > 0 { use += option.cost / budget }
    if let capacity = request.capacity, capacity > 0 { use += 1 / Double(capacity) }
    return use > 0 ? option.net / use : option.net
  }

  /// Offers the customer's next option, if they have one.
  private mutating func pushNext(after top: (score: Double, customer: Int, choice: Int)) {
    let next = top.choice + 1
    if next < options[top.customer].count { heap.push((density(options[top.customer][next]), top.customer, next)) }
  }

  mutating func run(into plan: inout OutboundPlan) {
    for (k, mine) in options.enumerated() { heap.push((density(mine[0]), k, 0)) }
    while let top = heap.pop() {
      if let capacity = request.capacity, plan.assignments.count >= capacity {
        plan.stoppedBy = "capacity"
        break
      }
      let option = options[top.customer][top.choice]
      let offer = engine.catalogue.offers[option.offer]
      if option.control {
        plan.controls.append(
          OutboundControl(
            customerId: owners[top.customer], offerId: offer.definition.id, propensity: option.propensity,
            net: option.net))
        pushNext(after: top)
        continue
      }
      if let budget = request.budget, spent + option.cost > budget {
        plan.stoppedBy = "budget"
        pushNext(after: top)  // their next, cheaper offer may still fit
        continue
      }
      guard reserveQuota(offer) else {
        pushNext(after: top)
        continue
      }
      guard reserveCapacity(offer) else {
        releaseQuota(offer)
        plan.stoppedBy = "capacity"
        break
      }
      spent += option.cost
      plan.assignments.append(assignment(option, customer: owners[top.customer]))
      plan.expectedResponses += option.propensity
      plan.expectedValue += plan.assignments.last!.expectedValue
    }
    plan.totalCost = spent
  }

  private mutating func reserveQuota(_ offer: CompiledOffer) -> Bool {
    guard let quota = offer.quota else { return true }
    if commit { return quota.reserve(offer.quotaUnits, at: now) }
    let used = counted[offer.index, default: 0]
    guard quota.used(at: now) + Double(used + 1) * offer.quotaUnits <= quota.limitUnits else { return false }
    counted[offer.index] = used + 1
    return true
  }

  private mutating func releaseQuota(_ offer: CompiledOffer) {
    guard let quota = offer.quota else { return }
    if commit { quota.release(offer.quotaUnits, at: now) } else { counted[offer.index, default: 1] -= 1 }
  }

  /// The channel's capacity budget (e.g. agent minutes for outbound calls).
  private mutating func reserveCapacity(_ offer: CompiledOffer) -> Bool {
    let channel = request.channel
    guard let budget = engine.catalogue.capacityBudgets[channel.ordinal] else { return true }
    let units = offer.capacityUnits[channel.ordinal]
    if commit { return budget.reserve(units, at: now) }
    guard budget.used(at: now) + countedUnits + units <= budget.limitUnits else { return false }
    countedUnits += units
    return true
  }

  private func assignment(_ option: OutboundOption, customer: UInt64) -> OutboundAssignment {
    let customers = engine.customers, channel = request.channel
    let offer = engine.catalogue.offers[option.offer]
    let row = customers.row(of: customer)!
    let template = offer.treatments[channel.ordinal]!
    let name = offer.definition.name, displayName = customers.displayName(row: row)
    let treatment = withUnsafeTemporaryAllocation(of: Float.self, capacity: engine.schema.width) { buffer in
      customers.read(row: row, into: buffer, nowDays: now)
      let x = UnsafeBufferPointer(buffer)
      return RenderedTreatment(
        title: template.title.render(displayName: displayName, offerName: name, customer: x),
        message: template.message.render(displayName: displayName, offerName: name, customer: x),
        agentScript: template.script?.render(displayName: displayName, offerName: name, customer: x) ?? "")
    }
    return OutboundAssignment(
      customerId: customer, offerId: offer.definition.id, offerIndex: offer.index, propensity: option.propensity,
      expectedValue: option.propensity * offer.definition.value * offer.definition.lever, cost: option.cost,
      treatment: treatment)
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
