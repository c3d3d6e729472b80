import ArbiterCore
import ArbiterFeatureStore
import ArbiterModels
import Foundation

/// What scoring reads of a decision, as plain values (no reference to retain per offer).
struct ScoringTerms {
  let reasonKey: Int?
  let pageKey: Int?
  let channel: Channel
  let costShare: Double
  let channelPrice: Double
  let now: Double
  /// Whether the draw is Thompson sampling (the adaptive models' variances are then read too).
  var thompson = false
}

/// What the candidates and presentation stages read of one decision's inputs: the customer's
/// vector, the context values, and the row prepared for the logistic models (all on the stack).
struct DecisionInputs {
  /// The customer's consents (none for an anonymous visitor).
  let consents: ConsentSet
  let customer: UnsafeBufferPointer<Float>
  let context: UnsafeBufferPointer<Float>
  let row: ScoringRow
  /// The customer's standardised features for the adaptive models (empty without them).
  var adaptive = UnsafeBufferPointer<Double>(start: nil, count: 0)
}

extension DecisionEngine {
  // MARK: validate

  /// Checks the request against the engine (domain terms; the door that received it has already
  /// checked its fields); returns the customer's row, nil for an anonymous visitor.
  func validate(_ request: DecisionRequest) throws(ArbiterError) -> Int? {
    guard request.customerId != 0 || request.anonymous else {
      throw ArbiterError(.invalidArgument, "a customer id is required (0 is not a customer)")
    }
    guard (1...Self.maxOffersLimit).contains(request.maxOffers) else {
      throw ArbiterError(
        .invalidArgument, "the number of offers must be between 1 and \(Self.maxOffersLimit), got \(request.maxOffers)")
    }
    let extraContext = schema.contextFeatures.count - (catalogue.channelContextFeature == nil ? 0 : 1)
    guard request.contextFeatures.count <= extraContext else {
      throw ArbiterError(
        .invalidArgument,
        "the context has \(request.contextFeatures.count) feature values, "
          + "the schema has \(extraContext) context features besides the channel"
      )
    }
    for (i, value) in request.contextFeatures.enumerated() where !value.isFinite && !value.isNaN {
      throw ArbiterError(.invalidArgument, "context feature value \(i) is infinite")
    }
    guard !request.anonymous else { return nil }
    guard let row = customers.row(of: request.customerId) else {
      throw ArbiterError(.notFound, "customer \(request.customerId) not found")
    }
    return row
  }

  // MARK: context

  /// The context features in schema order: the channel where the schema has it, the request's
  /// values in the other places (missing beyond them).
  func contextValues(for request: DecisionRequest) -> [Float] {
    var context = [Float](repeating: .nan, count: schema.contextFeatures.count)
    var next = 0
    for i in context.indices {
      if i == catalogue.channelContextFeature {
        context[i] = Float(request.channel.ordinal)
      } else {
        if next < request.contextFeatures.count { context[i] = Float(request.contextFeatures[next]) }
        next += 1
      }
    }
    return context
  }

  /// The decision's state at its start: the moment, the contact policy over the customer's
  /// history, the context keys, the channel's capacity and the control period; `now` (days since
  /// the epoch) replaces the engine's clock when given.
  func beginDecision(
    _ request: DecisionRequest, decisionId: String, contacts history: [ContactRecord], slots: [SlotRequest]?,
    started: UInt64, now given: Double? = nil
  ) -> DecisionState {
    let now = given ?? clock()
    let nowMillis = Int64((now * 86_400_000).rounded())
    let channel = request.channel
    let budget = catalogue.capacityBudgets[channel.ordinal]
    let arbitration = catalogue.arbitration
    var state = DecisionState(
      request: request, decisionId: decisionId, slots: slots, started: started, now: now, nowMillis: nowMillis,
      policy: ContactPolicyCheck(
        catalogue: catalogue, channel: channel, history: request.anonymous ? [] : history, nowMillis: nowMillis),
      reasonKey: request.callReason.isEmpty ? nil : catalogue.contextKey("reason:\(request.callReason)"),
      pageKey: request.page.isEmpty ? nil : catalogue.contextKey("page:\(request.page)"),
      channelBudget: budget,
      channelPrice: arbitration.pacing ? budget?.price(at: now) ?? 0 : 0,
      channelUsed: budget?.used(at: now) ?? 0,
      costShare: arbitration.subtractChannelCost ? (channel.isInbound ? arbitration.inboundCostShare : 1) : 0,
      control: request.anonymous ? nil : catalogue.controlPeriod(nowDays: now),
      budgetEnd: min(request.deadline, catalogue.decisionBudget.map { started &+ $0 } ?? .max))
    state.candidates.reserveCapacity(catalogue.offers.count)
    if catalogue.exploration.method == .thompson {
      state.thompson = ThompsonSample(
        offers: catalogue.offers.count, seed: OfferSelector.thompsonSeed(decisionId: decisionId))
    }
    return state
  }

  // MARK: candidates

  /// Every offer through eligibility and suitability, the contact policy, its quota and the
  /// channel's capacity, scoring and arbitration, and the control group; those left are the
  /// candidates, best first (ties by catalogue order).
  func collectCandidates(_ state: inout DecisionState, _ inputs: DecisionInputs) {
    let terms = ScoringTerms(
      reasonKey: state.reasonKey, pageKey: state.pageKey, channel: state.channel, costShare: state.costShare,
      channelPrice: state.channelPrice, now: state.now, thompson: state.thompson != nil)
    let budgeted = state.budgetEnd != .max
    for index in 0..<catalogue.hot.count {
      // Out of time (a slow model, a decision that waited): the fallback offers instead. The
      // clock is read every 8 offers, a few tens of nanoseconds each time.
      if budgeted, index & 7 == 0, DispatchTime.now().uptimeNanoseconds > state.budgetEnd {
        return fallBack(&state, inputs)
      }
      guard isEligible(index, &state, inputs), isWithinLimits(index, &state) else {
        continue
      }
      let (scored, predictor) = score(index, terms, inputs)
      var candidate = scored
      if isHeldOut(candidate, &state) { continue }
      guard candidate.priority > 0 else {
        state.tally.add(.belowCost)
        if state.explain { state.suppressed.append(belowCost(candidate)) }
        continue
      }
      // Thompson sampling: ranked by a sample of the priority (admitted by its mean, above).
      if state.thompson != nil {
        let scale = catalogue.hot[index].value * candidate.weight * catalogue.hot[index].lever
        candidate.priority = state.thompson!.record(
          offer: index, mean: predictor.mean, variance: predictor.variance, scale: scale,
          base: candidate.priority - candidate.propensity * scale)
      }
      state.candidates.append(candidate)
    }
    state.candidates.sort { $0.priority > $1.priority || ($0.priority == $1.priority && $0.offer < $1.offer) }
  }

  /// The SLA fallback: what was scored so far is dropped, and the candidates are the catalogue's
  /// fallback offers that pass eligibility, consent, the contact policy and the limits (no
  /// model is run), in the catalogue's order; the draw is greedy.
  private func fallBack(_ state: inout DecisionState, _ inputs: DecisionInputs) {
    state.fallback = true
    state.candidates.removeAll(keepingCapacity: true)
    state.controls.removeAll()
    state.suppressed.removeAll()
    state.tally = SuppressionTally()
    let count = catalogue.fallbackOffers.count
    for (position, index) in catalogue.fallbackOffers.enumerated() {
      guard isEligible(index, &state, inputs), isWithinLimits(index, &state) else {
        continue
      }
      state.candidates.append(
        DecisionState.Candidate(
          offer: index, propensity: 0, weight: 1, cost: 0, price: 0, priority: Double(count - position)))
    }
  }

  /// Eligibility, consent and suitability, then the contact policy. An anonymous visitor has no
  /// customer rules to meet, but an offer's validity dates and channels hold for everyone.
  @inline(__always)
  private func isEligible(
    _ index: Int, _ state: inout DecisionState, _ inputs: DecisionInputs
  ) -> Bool {
    let rules = catalogue.rules
    let channel = state.channel, now = state.now
    if state.request.anonymous {
      if let code = rules.checkAnonymous(offer: index, channel: channel, nowDays: now) {
        state.tally.add(Suppression.Code(code))
        if state.explain {
          let why = rules.explainAnonymous(code: code, offer: index, channel: channel)
          state.suppressed.append(
            Suppression(offerId: offerId(index), code: Suppression.Code(why.code), detail: why.detail))
        }
        return false
      }
    } else if let code = rules.check(
      offer: index, customer: inputs.customer, context: inputs.context, channel: channel, consents: inputs.consents,
      nowDays: now)
    {
      state.tally.add(Suppression.Code(code))
      if state.explain,
        let why = rules.explain(
          offer: index, customer: inputs.customer, context: inputs.context, channel: channel,
          consents: inputs.consents,
          nowDays: now)
      {
        state.suppressed.append(
          Suppression(offerId: offerId(index), code: Suppression.Code(why.code), detail: why.detail))
      }
      return false
    }
    if let why = state.policy.blocked(offer: index) {
      state.tally.add(.contactPolicy)
      if state.explain {
        state.suppressed.append(Suppression(offerId: offerId(index), code: .contactPolicy, detail: why))
      }
      return false
    }
    return true
  }

  /// The offer's quota and the channel's capacity, as they stand when the decision starts.
  @inline(__always)
  private func isWithinLimits(_ index: Int, _ state: inout DecisionState) -> Bool {
    let now = state.now
    if catalogue.hot[index].hasHours, let hours = catalogue.offers[index].opening,
      !hours.isOpen(atMillis: state.nowMillis)
    {
      state.tally.add(.closed)
      if state.explain {
        state.suppressed.append(
          Suppression(
            offerId: offerId(index), code: .closed,
            detail: "the \(hours.channel.name) is closed (today \(hours.hoursText(atMillis: state.nowMillis)), "
              + "\(hours.timeZone.identifier))"))
      }
      return false
    }
    if catalogue.hot[index].hasQuota, let quota = catalogue.offers[index].quota,
      quota.used(at: now) + catalogue.offers[index].quotaUnits > quota.limitUnits
    {
      state.tally.add(catalogue.offers[index].definition.fulfilledBy == nil ? .budget : .capacity)
      if state.explain { state.suppressed.append(quotaUsedUp(index, quota)) }
      return false
    }
    let units = catalogue.hotUnits[index * Channel.allCases.count + state.channel.ordinal]
    if let budget = state.channelBudget, state.channelUsed + units > budget.limitUnits {
      state.tally.add(.capacity)
      if state.explain {
        state.suppressed.append(
          Suppression(
            offerId: offerId(index), code: .capacity,
            detail: "\(state.channel.name) capacity of \(budget.limitUnits) units this hour used up"))
      }
      return false
    }
    return true
  }

  /// Scoring and arbitration: priority = propensity × value × context weight × lever − channel
  /// cost − shadow prices; on uplift, the propensity less the control model's.
  /// With adaptive models, the propensity is theirs (refining the offline model's log-odds), and
  /// their linear predictor's mean and variance are returned too.
  @inline(__always)
  private func score(
    _ index: Int, _ state: ScoringTerms, _ inputs: DecisionInputs
  ) -> (DecisionState.Candidate, predictor: (mean: Double, variance: Double)) {
    let offer = catalogue.hot[index]
    let channels = Channel.allCases.count
    var propensity: Double
    var predictor = (mean: Double.nan, variance: 0.0)
    if let adaptive = catalogue.adaptive {
      // The offline log-odds, refined: straight from a logistic model, else from its probability.
      let logit =
        offer.logistic?.logit(inputs.row)
        ?? Self.logOdds(
          catalogue.offers[index].model.propensity(row: inputs.row, customer: inputs.customer, context: inputs.context))
      let slot = adaptive.slot(offer: index, channel: state.channel)
      predictor.mean = adaptive.models.mean(slot: slot, logit: logit, s: inputs.adaptive)
      // Only Thompson sampling draws from the posterior: the variance is read for it alone.
      if state.thompson { predictor.variance = adaptive.models.variance(slot: slot, logit: logit, s: inputs.adaptive) }
      propensity = sigmoid(predictor.mean)
    } else {
      propensity =
        offer.logistic?.propensity(inputs.row)
        ?? catalogue.offers[index].model.propensity(row: inputs.row, customer: inputs.customer, context: inputs.context)
    }
    let weights = catalogue.contextWeights, keyCount = catalogue.contextKeys.count
    let weight =
      (state.reasonKey.map { weights[index * keyCount + $0] } ?? 1)
      * (state.pageKey.map { weights[index * keyCount + $0] } ?? 1)
    let cost = state.costShare == 0 ? 0 : catalogue.hotCosts[index * channels + state.channel.ordinal] * state.costShare
    let pacing = catalogue.arbitration.pacing
    let quotaPrice = pacing && offer.hasQuota ? catalogue.offers[index].quota?.price(at: state.now) ?? 0 : 0
    let price = quotaPrice + state.channelPrice * catalogue.hotUnits[index * channels + state.channel.ordinal]
    var effect = propensity
    if catalogue.arbitration.objective == .uplift, let control = catalogue.offers[index].control {
      effect -= control.propensity(row: inputs.row, customer: inputs.customer, context: inputs.context)
    }
    let priority = effect * offer.value * weight * offer.lever - cost - price
    return (
      DecisionState.Candidate(
        offer: index, propensity: propensity, weight: weight, cost: cost, price: price, priority: priority),
      predictor
    )
  }

  /// The control group: a customer held out of the offer's group for the period is logged with
  /// what the offer would have scored, so that lift can be measured.
  @inline(__always)
  private func isHeldOut(_ candidate: DecisionState.Candidate, _ state: inout DecisionState) -> Bool {
    guard let control = state.control,
      CompiledCatalogue.isControl(
        customer: state.request.customerId, groupHash: catalogue.hot[candidate.offer].groupHash, period: control.period,
        share: control.share)
    else { return false }
    let compiled = catalogue.offers[candidate.offer]
    state.controls.append(
      ControlHoldout(offerId: compiled.definition.id, propensity: candidate.propensity, priority: candidate.priority))
    state.tally.add(.controlGroup)
    if state.explain {
      state.suppressed.append(
        Suppression(
          offerId: compiled.definition.id, code: .controlGroup,
          detail: "customer is in the control group of '\(compiled.group)' this period",
          propensity: candidate.propensity,
          score: candidate.priority))
    }
    return true
  }

  private func belowCost(_ candidate: DecisionState.Candidate) -> Suppression {
    let definition = catalogue.offers[candidate.offer].definition
    let p = candidate.propensity
    let detail = String(
      format:
        "expected value %.2f (p %.4f × value %.0f × context %.2f × lever %.2f) "
        + "does not cover cost %.2f + shadow price %.2f",
      p * definition.value * candidate.weight * definition.lever, p, definition.value, candidate.weight,
      definition.lever,
      candidate.cost, candidate.price)
    return Suppression(
      offerId: definition.id, code: .belowCost, detail: detail, propensity: p, score: candidate.priority)
  }

  private func offerId(_ index: Int) -> String { catalogue.offers[index].definition.id }

  /// Why an offer's quota stops it: its own quota, or the capacity of the channel fulfilling it.
  private func quotaUsedUp(_ index: Int, _ quota: PacingState.Budget) -> Suppression {
    let definition = catalogue.offers[index].definition
    if let fulfilment = definition.fulfilledBy {
      return Suppression(
        offerId: definition.id, code: .capacity,
        detail: "\(fulfilment.name) capacity of \(quota.limitUnits) units this hour used up")
    }
    return Suppression(
      offerId: definition.id, code: .budget,
      detail: "quota of \(Int(quota.limitUnits)) per \(definition.quota?.period.rawValue ?? "period") used up")
  }

  // MARK: draw

  /// Draws the response position by position (a page: slot by slot, in order) with the
  /// exploration method, from the candidates that can fill that position now, and reserves
  /// quota and capacity for each offer drawn. A reservation lost to a concurrent decision leaves
  /// that candidate out and draws the position again.
  func draw(_ state: inout DecisionState) {
    // A fallback is not explored: its offers are unscored, in the catalogue's order.
    var selector = OfferSelector(
      policy: state.fallback ? ExplorationPolicy() : catalogue.exploration, decisionId: state.decisionId)
    var page = SlotFilling(slots: state.slots, maxPerCategory: catalogue.maxPerCategoryPerPage)
    let allowed = state.allowed(pageCapacity: page.capacity)
    var available: [Int] = []
    if selector.needsAllCandidates { available.reserveCapacity(state.candidates.count) }
    var resampling = SeededGenerator(seed: OfferSelector.thompsonSeed(decisionId: state.decisionId) ^ 0x9e37)
    while state.drawn.count < allowed, state.slots == nil || page.hasOpenPosition {
      collectAvailable(&state, page: page, firstOnly: !selector.needsAllCandidates, into: &available)
      guard !available.isEmpty else {
        if state.slots == nil { break }
        page.skipSlot()
        continue
      }
      var (picked, probability) = selector.pick(from: available) { state.candidates[$0].priority }
      guard reserve(picked, &state) else { continue }
      if let thompson = state.thompson, let draws = catalogue.adaptive?.policy.probabilityDraws {
        probability = thompson.probability(
          chosen: available.firstIndex(of: picked)!, among: available.map { state.candidates[$0].offer }, draws: draws,
          random: &resampling)
      }
      state.candidates[picked].shown = true
      var drawn = DecisionState.Draw(candidate: picked, probability: probability)
      if state.slots != nil {
        (drawn.slot, drawn.slotPosition) = page.place(
          category: catalogue.offers[state.candidates[picked].offer].definition.category)
      }
      state.drawn.append(drawn)
    }
  }

  /// The candidates that can fill the open position, best first: not shown, fitting the slot,
  /// with quota and channel capacity left now (a candidate found without is marked refused).
  @inline(__always)
  private func collectAvailable(
    _ state: inout DecisionState, page: SlotFilling, firstOnly: Bool, into available: inout [Int]
  ) {
    available.removeAll(keepingCapacity: true)
    let now = state.now
    let used = state.channelBudget?.used(at: now)
    // Plain values first: an offer object is touched (and its count retained, which two event
    // loops would bounce between their caches) only for a page's category or a quota.
    let hot = catalogue.hot, units = catalogue.hotUnits
    let unitColumn = state.channel.ordinal, channels = Channel.allCases.count
    for k in state.candidates.indices where !state.candidates[k].shown && state.candidates[k].refusal == nil {
      let index = state.candidates[k].offer
      if state.slots != nil && !page.fits(category: catalogue.offers[index].definition.category) { continue }
      if hot[index].hasQuota, let quota = catalogue.offers[index].quota,
        quota.used(at: now) + catalogue.offers[index].quotaUnits > quota.limitUnits
      {
        state.candidates[k].refusal = .budget
        continue
      }
      if let budget = state.channelBudget, used! + units[index * channels + unitColumn] > budget.limitUnits {
        state.candidates[k].refusal = .capacity
        continue
      }
      available.append(k)
      if firstOnly { return }
    }
  }

  /// Reserves the candidate's quota and channel capacity; false (nothing reserved, the candidate
  /// marked refused) when a concurrent decision took the last of either.
  @inline(__always)
  private func reserve(_ k: Int, _ state: inout DecisionState) -> Bool {
    let offer = catalogue.offers[state.candidates[k].offer]
    if let quota = offer.quota, !quota.reserve(offer.quotaUnits, at: state.now) {
      state.candidates[k].refusal = .budget
      return false
    }
    if let budget = state.channelBudget, !budget.reserve(offer.capacityUnits[state.channel.ordinal], at: state.now) {
      offer.quota?.release(offer.quotaUnits, at: state.now)
      state.candidates[k].refusal = .capacity
      return false
    }
    return true
  }

  // MARK: explain

  /// Why each candidate not shown was not: its quota or the channel's capacity ran out, the
  /// weekly limit, or it ranked below those shown.
  func explainUnshown(_ state: inout DecisionState) {
    guard state.explain else { return tallyUnshown(&state) }
    let shown = state.drawn.count
    let wanted = state.slots.map { $0.reduce(0) { $0 + $1.count } } ?? state.request.maxOffers
    let cutByWeek = state.policy.offersLeftThisWeek < wanted && shown == state.policy.offersLeftThisWeek
    for (k, candidate) in state.candidates.enumerated() where !candidate.shown {
      let id = offerId(candidate.offer)
      let code: Suppression.Code, detail: String
      if let refusal = candidate.refusal {
        code = refusal
        detail = refusal == .budget ? "quota used up" : "\(state.channel.name) capacity used up"
      } else if cutByWeek {
        code = .contactPolicy
        detail = "weekly limit: \(state.policy.offersLeftThisWeek) more offers allowed this week"
      } else {
        code = .rankedBelow
        detail = "ranked \(k + 1) of \(state.candidates.count) eligible; \(shown) shown"
      }
      state.tally.add(code)
      state.suppressed.append(
        Suppression(
          offerId: id, code: code, detail: detail, propensity: candidate.propensity, score: candidate.priority))
    }
  }

  /// The candidates not shown, counted by reason as ``explainUnshown(_:)`` gives it, without
  /// the words.
  @inline(__always)
  private func tallyUnshown(_ state: inout DecisionState) {
    guard state.drawn.count < state.candidates.count else { return }
    let shown = state.drawn.count
    let wanted = state.slots.map { $0.reduce(0) { $0 + $1.count } } ?? state.request.maxOffers
    let cutByWeek = state.policy.offersLeftThisWeek < wanted && shown == state.policy.offersLeftThisWeek
    for candidate in state.candidates where !candidate.shown {
      state.tally.add(candidate.refusal ?? (cutByWeek ? .contactPolicy : .rankedBelow))
    }
  }

  // MARK: present

  /// The drawn offers as the customer sees them: treatment filled in for the channel, reasons,
  /// every factor of the score, the probability each was drawn with.
  func present(_ state: DecisionState, _ inputs: DecisionInputs, row: Int?) -> Decision {
    let channel = state.channel
    let needsNames = state.drawn.contains { draw in
      let treatment = catalogue.offers[state.candidates[draw.candidate].offer].treatments[channel.ordinal]!
      return treatment.title.usesNames || treatment.message.usesNames || treatment.script?.usesNames == true
    }
    let names = TemplateNames(displayName: needsNames ? row.map { customers.displayName(row: $0) } ?? "" : "")
    var ranked: [RankedOffer] = []
    ranked.reserveCapacity(state.drawn.count)
    var contributions: [Double] = []
    for (position, draw) in state.drawn.enumerated() {
      let candidate = state.candidates[draw.candidate]
      let offer = catalogue.offers[candidate.offer]
      let treatment = offer.treatments[channel.ordinal]!
      let phrases = reasonPhrases[offer.index]
      var reasons: [ReasonCode]
      if state.fallback {
        reasons = [Self.fallbackReason]
      } else {
        contributions.removeAll(keepingCapacity: true)
        contributions.append(contentsOf: repeatElement(0, count: phrases.names.count))
        offer.model.contributions(customer: inputs.customer, context: inputs.context, into: &contributions)
        reasons = topReasons(phrases, contributions, customer: inputs.customer, context: inputs.context)
      }
      if candidate.weight != 1 { reasons.append(contextReason(state, weight: candidate.weight)) }
      let name = offer.definition.name
      ranked.append(
        RankedOffer(
          rank: position + 1, offerIndex: offer.index, offerId: offer.definition.id, name: name,
          product: offer.definition.product, propensity: candidate.propensity, value: offer.definition.value,
          contextWeight: candidate.weight, score: candidate.priority,
          treatment: RenderedTreatment(
            title: treatment.title.render(names: names, offerName: name, customer: inputs.customer),
            message: treatment.message.render(names: names, offerName: name, customer: inputs.customer),
            agentScript: treatment.script?.render(names: names, offerName: name, customer: inputs.customer) ?? ""),
          reasons: reasons, lever: offer.definition.lever, channelCost: candidate.cost, shadowPrice: candidate.price,
          probability: draw.probability, category: offer.definition.category, slot: draw.slot,
          slotPosition: draw.slotPosition,
          controlPropensity: catalogue.arbitration.objective == .uplift
            ? offer.control?.propensity(row: inputs.row, customer: inputs.customer, context: inputs.context) : nil,
          offlineLogOdds: catalogue.adaptive == nil || state.fallback
            ? nil : Self.logOdds(offer.model.propensity(row: inputs.row, customer: inputs.customer, context: inputs.context))))
    }
    let request = state.request
    var decision = Decision(
      decisionId: state.decisionId, requestId: request.requestId, customerId: request.customerId, channel: channel,
      versions: versions, offers: ranked, suppressed: state.suppressed,
      nanos: DispatchTime.now().uptimeNanoseconds - state.started,
      timestampMillis: state.nowMillis, controls: state.controls,
      exploration: state.fallback ? ExplorationPolicy.Method.greedy.rawValue : catalogue.exploration.method.rawValue)
    decision.suppressionTally = state.tally
    decision.fallback = state.fallback
    if state.thompson != nil && !state.fallback { decision.probabilityDraws = catalogue.adaptive?.policy.probabilityDraws ?? 0 }
    decision.visitorId = request.visitorId
    var features = [Float]()
    features.reserveCapacity(inputs.customer.count + inputs.context.count)
    features.append(contentsOf: inputs.customer)
    features.append(contentsOf: inputs.context)
    decision.features = features
    return decision
  }

  /// The reason every offer of a fallback carries.
  static let fallbackReason = ReasonCode(
    code: "SLA_FALLBACK", feature: "", contribution: 0,
    phrase: "a default offer: the decision did not finish within its time budget")

  /// The reason an interaction's context weighed an offer.
  private func contextReason(_ state: DecisionState, weight: Double) -> ReasonCode {
    let request = state.request
    let key = [
      state.reasonKey.map { _ in "reason:\(request.callReason)" }, state.pageKey.map { _ in "page:\(request.page)" },
    ]
    .compactMap { $0 }.joined(separator: ", ")
    return ReasonCode(
      code: "CONTEXT_WEIGHT", feature: key, contribution: weight,
      phrase: "relevant to this interaction (\(key)) ×\(weight)")
  }
}
