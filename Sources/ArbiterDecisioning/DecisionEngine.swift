import ArbiterCore
import ArbiterFeatureStore
import ArbiterModels
import Foundation

/// Decides for one interaction against one immutable snapshot of catalogue, models and
/// customers: eligibility (channel, consent, products held, age, conditions) → scoring →
/// arbitration by propensity × value × context weight → top N with reasons.
///
/// Ties in score are broken by catalogue order, so the same inputs always give the same ranking.
public final class DecisionEngine: Sendable {
  public static let defaultMaxOffers = 3
  public static let maxOffersLimit = 50
  /// How many reason codes each offer carries.
  public static let reasonsPerOffer = 3

  public let catalogue: CompiledCatalogue
  public let customers: FeatureStore
  public let schema: FeatureSchema
  public let versions: VersionStamp
  /// The current time in days since the epoch, at which derived features are read.
  public let clock: @Sendable () -> Double
  /// Per customer feature, the median over a sample of stored customers (NaN when none has it):
  /// what "high" and "low" mean when a tree model's reason is phrased.
  public let typicalValues: [Float]
  /// Quota and capacity use, shared with the outbound selection and kept across reloads.
  public let pacing: PacingState
  /// Per offer: its reason phrases, worked out at load.
  let reasonPhrases: [ReasonPhrases]

  /// `pacing` carries quota and capacity use across reloads (a new one starts empty).
  public init(
    bundle: ModelBundle, customers: FeatureStore, clock: @escaping @Sendable () -> Double = { FeatureStore.nowDays },
    pacing: PacingState = PacingState()
  ) throws(ArbiterError) {
    self.clock = clock
    guard bundle.schema == customers.schema else {
      throw ArbiterError(.failedPrecondition, "bundle \(bundle.manifest.name)/\(bundle.manifest.version) was built for a different feature schema than the loaded customers")
    }
    self.catalogue = try CompiledCatalogue(bundle: bundle, pacing: pacing)
    self.pacing = pacing
    self.customers = customers
    self.schema = bundle.schema
    self.versions = VersionStamp(
      bundleName: bundle.manifest.name, bundleVersion: bundle.manifest.version,
      catalogueVersion: bundle.catalogue.version, schemaHash: bundle.manifest.schemaHash)
    self.typicalValues = Self.medians(of: customers, width: bundle.schema.width, at: clock())
    var labels: [String: String] = [:]
    for feature in bundle.schema.customerFeatures + bundle.schema.contextFeatures {
      labels[feature.name] = String(feature.name.map { $0 == "_" ? " " : $0 })
    }
    let catalogue = self.catalogue, schema = self.schema, typicalValues = self.typicalValues
    self.reasonPhrases = catalogue.offers.map { offer in
      ReasonPhrases(model: offer.model, schema: schema, phrases: catalogue.phrases, typicalValues: typicalValues) { labels[$0] ?? $0 }
    }
  }


  /// Feature medians over up to 1,001 stored customers spread across the store.
  static func medians(of customers: FeatureStore, width: Int, at now: Double) -> [Float] {
    let count = customers.count
    let step = max(1, count / 1_000)
    var columns = [[Float]](repeating: [], count: width)
    var buffer = [Float](repeating: 0, count: width)
    for row in stride(from: 0, to: count, by: step) {
      buffer.withUnsafeMutableBufferPointer { customers.read(row: row, into: $0, nowDays: now) }
      for f in 0..<width where !buffer[f].isNaN { columns[f].append(buffer[f]) }
    }
    return columns.map { values in values.isEmpty ? .nan : values.sorted()[values.count / 2] }
  }

  /// Decides; throws `notFound` for an unknown customer and `invalidArgument` for bad input.
  ///
  /// `history` is the customer's recent interactions (newest first) for the contact policy;
  /// `slots`, when given, fills page slots instead of a top N (see ``SlotFilling``).
  public func decide(
    _ request: DecisionRequest, decisionId: String, history: [InteractionEntry] = [], slots: [SlotRequest]? = nil
  ) throws(ArbiterError) -> Decision {
    try decide(request, decisionId: decisionId, contacts: history.map(ContactRecord.init), slots: slots)
  }

  /// Decides with the customer's recent contacts (newest first) as the contact policy reads them.
  public func decide(
    _ request: DecisionRequest, decisionId: String, contacts history: [ContactRecord], slots: [SlotRequest]? = nil
  ) throws(ArbiterError) -> Decision {
    let started = DispatchTime.now().uptimeNanoseconds
    guard request.customerId != 0 || request.anonymous else { throw ArbiterError(.invalidArgument, "customer_id is required (0 is not a customer)") }
    guard (1...Self.maxOffersLimit).contains(request.maxOffers) else {
      throw ArbiterError(.invalidArgument, "max_offers must be between 1 and \(Self.maxOffersLimit), got \(request.maxOffers)")
    }
    let row: Int?
    if request.anonymous {
      row = nil
    } else {
      guard let found = customers.row(of: request.customerId) else {
        throw ArbiterError(.notFound, "customer \(request.customerId) not found")
      }
      row = found
    }
    let extraContext = schema.contextFeatures.count - (catalogue.channelContextFeature == nil ? 0 : 1)
    guard request.contextFeatures.count <= extraContext else {
      throw ArbiterError(.invalidArgument, "context.features has \(request.contextFeatures.count) values, the schema has \(extraContext) context features besides the channel")
    }
    for (i, value) in request.contextFeatures.enumerated() where !value.isFinite && !value.isNaN {
      throw ArbiterError(.invalidArgument, "context.features[\(i)] is infinite")
    }
    var context = [Float](repeating: .nan, count: schema.contextFeatures.count)
    var next = 0
    for i in context.indices {
      if i == catalogue.channelContextFeature { context[i] = Float(request.channel.ordinal) } else {
        if next < request.contextFeatures.count { context[i] = Float(request.contextFeatures[next]) }
        next += 1
      }
    }
    let reasonKey = request.callReason.isEmpty ? nil : catalogue.contextKey("reason:\(request.callReason)")
    let pageKey = request.page.isEmpty ? nil : catalogue.contextKey("page:\(request.page)")
    let now = clock()
    let nowMillis = Int64((now * 86_400_000).rounded())
    let channel = request.channel
    let policy = ContactPolicyCheck(catalogue: catalogue, channel: channel, history: request.anonymous ? [] : history, nowMillis: nowMillis)

    struct Candidate {
      var offer: Int
      var propensity: Double
      var weight: Double
      var cost: Double
      var price: Double
      var priority: Double
    }
    var candidates: [Candidate] = []
    candidates.reserveCapacity(catalogue.offers.count)
    var suppressed: [Suppression] = []
    var controls: [ControlHoldout] = []
    let explain = request.explain
    let channelBudget = catalogue.capacityBudgets[channel.ordinal]
    let channelPrice = catalogue.arbitration.pacing ? channelBudget?.price(at: now) ?? 0 : 0

    return withCustomer(row) { (customer: UnsafeBufferPointer<Float>) -> Decision in
      context.withUnsafeBufferPointer { (contextValues: UnsafeBufferPointer<Float>) -> Decision in
        ScoringRow.prepare(catalogue.scoringLayout, customer: customer, context: contextValues) { scoringRow in
          let rules = catalogue.rules
          let consentGiven = request.anonymous || rules.consents(customer, on: channel)
          let channels = Channel.allCases.count
          let costShare = catalogue.arbitration.subtractChannelCost ? (channel.isInbound ? catalogue.arbitration.inboundCostShare : 1) : 0
          let pacing = catalogue.arbitration.pacing
          let channelUsed = channelBudget.map { $0.used(at: now) }
          let control = request.anonymous ? nil : catalogue.controlPeriod(nowDays: now)
          let hot = catalogue.hot, costs = catalogue.hotCosts, units = catalogue.hotUnits
          let weights = catalogue.contextWeights, keyCount = catalogue.contextKeys.count
          for index in 0..<hot.count {
            let offer = hot[index]
            // 1. Eligibility, consent and suitability.
            if request.anonymous {
              if !rules.offers[index].allows(channel) {
                if explain {
                  suppressed.append(Suppression(offerId: catalogue.offers[index].definition.id, code: .channelNotAllowed, detail: "not offered through \(channel.name)"))
                }
                continue
              }
            } else if rules.check(offer: index, customer: customer, context: contextValues, channel: channel, consentGiven: consentGiven, nowDays: now) != nil {
              if explain, let why = rules.explain(offer: index, customer: customer, context: contextValues, channel: channel, consentGiven: consentGiven, nowDays: now) {
                suppressed.append(Suppression(offerId: catalogue.offers[index].definition.id, code: Suppression.Code(why.code), detail: why.detail))
              }
              continue
            }
            // 2. Contact policy.
            if let why = policy.blocked(offer: index) {
              if explain { suppressed.append(Suppression(offerId: catalogue.offers[index].definition.id, code: .contactPolicy, detail: why)) }
              continue
            }
            // 3. Quota already used up.
            if offer.hasQuota, let quota = catalogue.offers[index].quota, quota.used(at: now) >= quota.limitUnits {
              if explain {
                let definition = catalogue.offers[index].definition
                suppressed.append(Suppression(offerId: definition.id, code: .budget, detail: "quota of \(Int(quota.limitUnits)) per \(definition.quota!.period.rawValue) used up"))
              }
              continue
            }
            let unitsHere = units[index * channels + channel.ordinal]
            if let budget = channelBudget, channelUsed! + unitsHere > budget.limitUnits {
              if explain {
                suppressed.append(Suppression(offerId: catalogue.offers[index].definition.id, code: .capacity, detail: "\(channel.name) capacity of \(budget.limitUnits) units this hour used up"))
              }
              continue
            }
            // 4. Scoring and arbitration.
            let propensity = offer.logistic?.propensity(scoringRow)
              ?? catalogue.offers[index].model.propensity(row: scoringRow, customer: customer, context: contextValues)
            let weight = (reasonKey.map { weights[index * keyCount + $0] } ?? 1) * (pageKey.map { weights[index * keyCount + $0] } ?? 1)
            let cost = costShare == 0 ? 0 : costs[index * channels + channel.ordinal] * costShare
            let quotaPrice = pacing && offer.hasQuota ? catalogue.offers[index].quota?.price(at: now) ?? 0 : 0
            let price = quotaPrice + channelPrice * unitsHere
            let priority = propensity * offer.value * weight * offer.lever - cost - price
            // 5. Control group: held out of this offer group for the period, logged for lift.
            if let control, CompiledCatalogue.isControl(customer: request.customerId, groupHash: offer.groupHash, period: control.period, share: control.share) {
              let compiled = catalogue.offers[index]
              controls.append(ControlHoldout(offerId: compiled.definition.id, propensity: propensity, priority: priority))
              if explain {
                suppressed.append(Suppression(
                  offerId: compiled.definition.id, code: .controlGroup, detail: "customer is in the control group of '\(compiled.group)' this period",
                  propensity: propensity, score: priority))
              }
              continue
            }
            guard priority > 0 else {
              if explain {
                let definition = catalogue.offers[index].definition
                suppressed.append(Suppression(
                  offerId: definition.id, code: .belowCost,
                  detail: String(
                    format: "expected value %.2f (p %.4f × value %.0f × context %.2f × lever %.2f) does not cover cost %.2f + shadow price %.2f",
                    propensity * definition.value * weight * definition.lever, propensity, definition.value, weight,
                    definition.lever, cost, price),
                  propensity: propensity, score: priority))
              }
              continue
            }
            candidates.append(Candidate(offer: index, propensity: propensity, weight: weight, cost: cost, price: price, priority: priority))
          }
          candidates.sort { $0.priority > $1.priority || ($0.priority == $1.priority && $0.offer < $1.offer) }

          // 6. Draw (exploration), reserving quota and capacity for what is shown.
          let allowed = min(request.maxOffers, policy.offersLeftThisWeek)
          var selector = OfferSelector(policy: catalogue.exploration, decisionId: decisionId)
          var slotUse = SlotFilling(slots: slots, maxPerCategory: catalogue.maxPerCategoryPerPage)
          var refused: [Int: Suppression.Code] = [:]
          let drawn = selector.select(priorities: candidates.map(\.priority), count: slots == nil ? allowed : slotUse.capacity) { k in
            let offer = catalogue.offers[candidates[k].offer]
            if slots != nil && !slotUse.canPlace(category: offer.definition.category) { return false }
            if let quota = offer.quota, !quota.reserve(1, at: now) {
              refused[k] = .budget
              return false
            }
            if let budget = channelBudget, !budget.reserve(offer.capacityUnits[channel.ordinal], at: now) {
              offer.quota?.release(1, at: now)
              refused[k] = .capacity
              return false
            }
            if slots != nil { slotUse.place(category: offer.definition.category) }
            return true
          }
          if explain {
            let shown = Set(drawn.map(\.index))
            for (k, candidate) in candidates.enumerated() where !shown.contains(k) {
              let id = catalogue.offers[candidate.offer].definition.id
              if let code = refused[k] {
                suppressed.append(Suppression(offerId: id, code: code, detail: code == .budget ? "quota used up" : "\(channel.name) capacity used up", propensity: candidate.propensity, score: candidate.priority))
              } else if drawn.count == allowed && allowed < request.maxOffers && slots == nil {
                suppressed.append(Suppression(
                  offerId: id, code: .contactPolicy, detail: "weekly limit: \(policy.offersLeftThisWeek) more offers allowed this week",
                  propensity: candidate.propensity, score: candidate.priority))
              } else {
                suppressed.append(Suppression(
                  offerId: id, code: .rankedBelow, detail: "ranked \(k + 1) of \(candidates.count) eligible; \(drawn.count) shown",
                  propensity: candidate.propensity, score: candidate.priority))
              }
            }
          }

          let needsNames = drawn.contains { draw in
            let treatment = catalogue.offers[candidates[draw.index].offer].treatments[channel.ordinal]!
            return treatment.title.usesNames || treatment.message.usesNames || treatment.script?.usesNames == true
          }
          let names = TemplateNames(displayName: needsNames ? row.map { customers.displayName(row: $0) } ?? "" : "")
          var ranked: [RankedOffer] = []
          ranked.reserveCapacity(drawn.count)
          var contributions: [Double] = []
          for (position, draw) in drawn.enumerated() {
            let candidate = candidates[draw.index]
            let offer = catalogue.offers[candidate.offer]
            let treatment = offer.treatments[channel.ordinal]!
            let phrases = reasonPhrases[offer.index]
            contributions.removeAll(keepingCapacity: true)
            contributions.append(contentsOf: repeatElement(0, count: phrases.names.count))
            offer.model.contributions(customer: customer, context: contextValues, into: &contributions)
            var reasons = topReasons(phrases, contributions, customer: customer, context: contextValues)
            if candidate.weight != 1 {
              let key = [reasonKey.map { _ in "reason:\(request.callReason)" }, pageKey.map { _ in "page:\(request.page)" }]
                .compactMap { $0 }.joined(separator: ", ")
              reasons.append(ReasonCode(code: "CONTEXT_WEIGHT", feature: key, contribution: candidate.weight,
                                        phrase: "relevant to this interaction (\(key)) ×\(candidate.weight)"))
            }
            let name = offer.definition.name
            ranked.append(RankedOffer(
              rank: position + 1, offerIndex: offer.index, offerId: offer.definition.id, name: name,
              product: offer.definition.product, propensity: candidate.propensity, value: offer.definition.value,
              contextWeight: candidate.weight, score: candidate.priority,
              treatment: RenderedTreatment(
                title: treatment.title.render(names, offerName: name, customer: customer),
                message: treatment.message.render(names, offerName: name, customer: customer),
                agentScript: treatment.script?.render(names, offerName: name, customer: customer) ?? ""),
              reasons: reasons, lever: offer.definition.lever, channelCost: candidate.cost, shadowPrice: candidate.price,
              probability: draw.probability, category: offer.definition.category))
            if slots != nil {
              ranked[position].slot = slotUse.placements[position].slot
              ranked[position].slotPosition = slotUse.placements[position].position
            }
          }
          return Decision(
            decisionId: decisionId, requestId: request.requestId, customerId: request.customerId, channel: channel,
            versions: versions, offers: ranked, suppressed: suppressed,
            nanos: DispatchTime.now().uptimeNanoseconds - started,
            timestampMillis: nowMillis, controls: controls, exploration: catalogue.exploration.method.rawValue)
        }
      }
    }
  }

  /// Scores every offer's model for a probe of up to `customers` stored customers (spread across
  /// the store) on every channel context; throws naming the offer and customer if a score is not
  /// a finite probability. Run before a bundle is published.
  public func probe(customers limit: Int = 1_000) throws(ArbiterError) {
    let ids = customers.customerIds()
    guard !ids.isEmpty else { return }
    let step = max(1, ids.count / limit)
    var context = [Float](repeating: .nan, count: schema.contextFeatures.count)
    for index in stride(from: 0, to: ids.count, by: step) {
      guard let row = customers.row(of: ids[index]) else { continue }
      let failure: ArbiterError? = withCustomer(row) { customer in
        for channel in Channel.allCases {
          if let feature = catalogue.channelContextFeature { context[feature] = Float(channel.ordinal) }
          let bad: CompiledOffer? = context.withUnsafeBufferPointer { c in
            ScoringRow.prepare(catalogue.scoringLayout, customer: customer, context: c) { scoringRow in
              catalogue.offers.first { offer in
                let p = offer.model.propensity(row: scoringRow, customer: customer, context: c)
                return !(p.isFinite && p >= 0 && p <= 1)
              }
            }
          }
          if let bad {
            return ArbiterError(.failedPrecondition, "probe: the model of offer '\(bad.definition.id)' does not score customer \(ids[index]) on \(channel.name) as a probability")
          }
        }
        return nil
      }
      if let failure { throw failure }
    }
  }

  /// Runs `body` over the customer's vector as it reads now (a consistent copy on the stack), or
  /// over an all-missing vector for an anonymous visitor (every feature scores as the mean).
  private func withCustomer<R>(_ row: Int?, _ body: (UnsafeBufferPointer<Float>) -> R) -> R {
    withUnsafeTemporaryAllocation(of: Float.self, capacity: schema.width) { buffer in
      if let row {
        customers.read(row: row, into: buffer, nowDays: clock())
      } else {
        buffer.initialize(repeating: .nan)
      }
      return body(UnsafeBufferPointer(buffer))
    }
  }

  /// The strongest positive contributions, each said as what is true of this customer: the
  /// catalogue's high or low phrase for numeric features, the level for categorical ones (see
  /// ``ReasonPhrases``). When nothing pushes the score up, the strongest negative one.
  private func topReasons(
    _ phrases: ReasonPhrases, _ contributions: [Double], customer: UnsafeBufferPointer<Float>, context: UnsafeBufferPointer<Float>
  ) -> [ReasonCode] {
    let names = phrases.names
    func phrase(_ i: Int) -> String { phrases.phrase(i, customer: customer, context: context) }
    // The largest positive contributions (ties to the lower index), picked in one pass into three
    // fixed slots (no array per offer).
    precondition(Self.reasonsPerOffer == 3, "the pick below keeps three")
    // An empty slot holds 0, so only positive values enter; once three are held, one comparison
    // with the third (rarely true) is all most values cost.
    var top = (-1, -1, -1)
    var best = (0.0, 0.0, 0.0)
    contributions.withUnsafeBufferPointer { c in
      for i in c.indices {
        let v = c[i]
        guard v > best.2 else { continue }
        if v > best.0 {
          top = (i, top.0, top.1)
          best = (v, best.0, best.1)
        } else if v > best.1 {
          top = (top.0, i, top.1)
          best = (best.0, v, best.1)
        } else {
          top.2 = i
          best.2 = v
        }
      }
    }
    let count = top.2 >= 0 ? 3 : top.1 >= 0 ? 2 : top.0 >= 0 ? 1 : 0
    var reasons: [ReasonCode] = []
    reasons.reserveCapacity(count + 1)
    for k in 0..<count {
      let i = k == 0 ? top.0 : k == 1 ? top.1 : top.2
      reasons.append(ReasonCode(code: "FEATURE_POSITIVE", feature: names[i], contribution: contributions[i], phrase: phrase(i)))
    }
    if reasons.isEmpty, !contributions.isEmpty {
      // None positive: the weakest (ties to the higher index).
      var weakest = 0
      for i in contributions.indices where contributions[i] <= contributions[weakest] { weakest = i }
      reasons.append(ReasonCode(code: "FEATURE_NEGATIVE", feature: names[weakest], contribution: contributions[weakest], phrase: phrase(weakest)))
    }
    return reasons
  }
}
