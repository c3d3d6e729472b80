import ArbiterCore
import ArbiterModels

/// The stages of compiling a bundle's catalogue (see ``CompiledCatalogue/init(bundle:pacing:)``):
/// channel capacity, the policies, the context keys, and each offer with its model, treatments,
/// costs and quota. Every error names the catalogue file, line and field at fault.
struct CatalogueCompiler {
  let bundle: ModelBundle
  let pacing: PacingState
  let file: String
  private var catalogue: CatalogueDocument { bundle.catalogue }
  private var schema: FeatureSchema { bundle.schema }

  init(bundle: ModelBundle, pacing: PacingState) {
    self.bundle = bundle
    self.pacing = pacing
    file = bundle.directory.map { "\($0)/\(ModelBundle.catalogueFile)" } ?? ModelBundle.catalogueFile
  }

  /// "catalogue.json line N, path".
  func at(_ path: String) -> String { JSONLocator.describe(file: file, path: path) }

  func invalid(_ path: String, _ problem: String) -> ArbiterError {
    ArbiterError(.invalidArgument, "\(at(path)): \(problem)")
  }

  /// A per-channel table of non-negative numbers keyed by channel name, over `fallback`.
  func channelTable(_ values: [String: Double], _ field: String, fallback: [Double]) throws(ArbiterError) -> [Double] {
    var table = fallback
    for (name, value) in values {
      guard let channel = Channel(name: name) else { throw invalid("\(field).\(name)", "unknown channel '\(name)'") }
      guard value.isFinite, value >= 0 else { throw invalid("\(field).\(name)", "must be a finite number >= 0") }
      table[channel.ordinal] = value
    }
    return table
  }

  // MARK: capacity and policies

  /// Per channel: the units one offer uses and the capacity budget, where the catalogue sets one.
  func capacity() throws(ArbiterError) -> (unitsPerOffer: [Double], budgets: [PacingState.Budget?]) {
    var unitsPerOffer = [Double](repeating: 0, count: Channel.allCases.count)
    var budgets = [PacingState.Budget?](repeating: nil, count: Channel.allCases.count)
    let largestValue = catalogue.offers.map(\.value).max() ?? 0
    for (k, capacity) in catalogue.capacity.enumerated() {
      guard capacity.unitsPerHour.isFinite, capacity.unitsPerHour > 0, capacity.unitsPerOffer.isFinite,
        capacity.unitsPerOffer > 0
      else { throw invalid("capacity[\(k)]", "unitsPerHour and unitsPerOffer must be positive") }
      guard budgets[capacity.channel.ordinal] == nil else {
        throw invalid("capacity[\(k)]", "channel \(capacity.channel.name) twice")
      }
      unitsPerOffer[capacity.channel.ordinal] = capacity.unitsPerOffer
      budgets[capacity.channel.ordinal] = pacing.budget(
        key: "capacity:\(capacity.channel.name)", limit: capacity.unitsPerHour, periodDays: 1.0 / 24,
        priceScale: largestValue / capacity.unitsPerOffer)
    }
    return (unitsPerOffer, budgets)
  }

  func contactPolicy() throws(ArbiterError) -> ContactPolicy {
    let policy = catalogue.contactPolicy
    for (k, cap) in policy.frequencyCaps.enumerated() where cap.max < 1 || !(cap.windowDays > 0) {
      throw invalid("contactPolicy.frequencyCaps[\(k)]", "max must be >= 1 and windowDays > 0")
    }
    guard policy.declineCooldownDays >= 0, policy.noRepeatDays >= 0, policy.maxOffersPerWeek >= 0 else {
      throw invalid("contactPolicy", "days and limits must not be negative")
    }
    return policy
  }

  func controlGroup() throws(ArbiterError) -> ControlGroupPolicy? {
    guard let control = catalogue.controlGroup else { return nil }
    guard control.share >= 0, control.share < 1, control.periodDays > 0 else {
      throw invalid("controlGroup", "share must be in [0, 1) and periodDays > 0")
    }
    return control
  }

  func exploration() throws(ArbiterError) -> ExplorationPolicy {
    let exploration = catalogue.exploration
    guard exploration.epsilon >= 0, exploration.epsilon <= 1, exploration.temperature > 0 else {
      throw invalid("exploration", "epsilon must be in [0, 1] and temperature > 0")
    }
    return exploration
  }

  func arbitration() throws(ArbiterError) -> ArbitrationPolicy {
    guard catalogue.arbitration.inboundCostShare >= 0, catalogue.arbitration.inboundCostShare <= 1 else {
      throw invalid("arbitration.inboundCostShare", "must be in [0, 1]")
    }
    return catalogue.arbitration
  }

  /// The decision budget in nanoseconds (nil: none) and the fallback offers' indexes, in order.
  func serviceLevel(offerIndex: [String: Int]) throws(ArbiterError) -> (budget: UInt64?, fallback: [Int]) {
    guard let policy = catalogue.serviceLevel else { return (nil, []) }
    var budget: UInt64?
    if let millis = policy.budgetMillis {
      guard millis.isFinite, millis > 0, millis <= 3_600_000 else {
        throw invalid("serviceLevel.budgetMillis", "must be a number of milliseconds above 0 and at most an hour")
      }
      budget = UInt64((millis * 1_000_000).rounded())
    }
    var fallback: [Int] = []
    for (k, id) in policy.fallbackOffers.enumerated() {
      guard let index = offerIndex[id] else {
        throw invalid("serviceLevel.fallbackOffers[\(k)]", "no offer '\(id)' in the catalogue")
      }
      guard !fallback.contains(index) else { throw invalid("serviceLevel.fallbackOffers[\(k)]", "'\(id)' twice") }
      fallback.append(index)
    }
    return (budget, fallback)
  }

  func maxPerCategoryPerPage() throws(ArbiterError) -> Int {
    guard catalogue.maxPerCategoryPerPage >= 0 else { throw invalid("maxPerCategoryPerPage", "must not be negative") }
    return catalogue.maxPerCategoryPerPage
  }

  /// Context keys ("reason:travel", "page:cards") in a stable order: each offer's, sorted.
  static func contextKeys(of catalogue: CatalogueDocument) -> [String: Int] {
    var keys: [String: Int] = [:]
    for offer in catalogue.offers {
      for key in offer.contextWeights.keys.sorted() where keys[key] == nil { keys[key] = keys.count }
    }
    return keys
  }

  // MARK: offers

  /// Every offer compiled, its index by id, and the context weights table; every model in the
  /// bundle must belong to an offer.
  func offers(
    contextKeys keys: [String: Int], unitsPerOffer: [Double], budgets: [PacingState.Budget?],
    hours: [CompiledOpeningHours?]
  ) throws(ArbiterError) -> (offers: [CompiledOffer], index: [String: Int], contextWeights: [Double]) {
    var modelsByOffer: [String: LogisticModelDocument] = [:]
    for model in bundle.models.models {
      guard modelsByOffer.updateValue(model, forKey: model.offerId) == nil else {
        throw ArbiterError(.invalidArgument, "models.json has two models for offer '\(model.offerId)'")
      }
    }
    let defaultCosts = try channelTable(
      catalogue.channelCosts, "channelCosts", fallback: [Double](repeating: 0, count: Channel.allCases.count))
    var weights = [Double](repeating: 1, count: catalogue.offers.count * max(keys.count, 1))
    var compiled: [CompiledOffer] = []
    var index: [String: Int] = [:]
    for (position, offer) in catalogue.offers.enumerated() {
      guard index.updateValue(position, forKey: offer.id) == nil else {
        throw ArbiterError(.invalidArgument, "\(what(position, offer)): duplicate offer id")
      }
      let logistic = modelsByOffer.removeValue(forKey: offer.id)
      // With adaptive models, an offer without a model starts from the adaptive prior.
      let untrained = catalogue.adaptive != nil && logistic == nil && bundle.trees[offer.id] == nil
      var model: PropensityModel
      if untrained, let lookalike = offer.adaptivePriorFrom {
        // A variant of another offer: that offer's model is the prior's input.
        guard lookalike != offer.id, catalogue.offers.contains(where: { $0.id == lookalike }) else {
          throw invalid("offers[\(position)].adaptivePriorFrom", "'\(lookalike)' is not another offer of the catalogue")
        }
        model = try self.model(
          of: offer, at: position, logistic: bundle.models.models.first { $0.offerId == lookalike },
          treesOf: lookalike)
      } else {
        model = untrained
          ? try priorModel(of: offer, at: position)
          : try self.model(of: offer, at: position, logistic: logistic)
      }
      let controlId = offer.id + Self.controlSuffix
      let controlLogistic = modelsByOffer.removeValue(forKey: controlId)
      var control: PropensityModel?
      if controlLogistic != nil || bundle.trees[controlId] != nil {
        control = try propensityModel(id: controlId, what: what(position, offer) + "'s control model", logistic: controlLogistic)
      } else if catalogue.arbitration.objective == .uplift {
        throw ArbiterError(
          .failedPrecondition,
          "\(what(position, offer)): arbitration on uplift needs its control model '\(controlId)' "
            + "(the response without the offer, trained on its control group) in models.json")
      }
      for (key, weight) in offer.contextWeights {
        guard weight.isFinite, weight >= 0 else {
          throw ArbiterError(
            .invalidArgument, "\(what(position, offer)).contextWeights.\(key): must be finite and >= 0")
        }
        weights[position * keys.count + keys[key]!] = weight
      }
      compiled.append(
        CompiledOffer(
          index: position, definition: offer, treatments: try treatments(of: offer, at: position), model: model,
          control: control, hasOfflineModel: !untrained, lookalike: untrained && offer.adaptivePriorFrom != nil,
          costs: try channelTable(offer.costs, "offers[\(position)].costs", fallback: defaultCosts),
          capacityUnits: try units(of: offer, at: position, unitsPerOffer: unitsPerOffer, budgets: budgets),
          quota: try quota(of: offer, at: position, unitsPerOffer: unitsPerOffer, budgets: budgets),
          opening: offer.fulfilledBy.flatMap { hours[$0.ordinal] }, group: offer.group ?? offer.category,
          salt: catalogue.controlGroup?.salt ?? ""))
    }
    let known = { (id: String) -> Bool in
      index[id] != nil || (id.hasSuffix(Self.controlSuffix) && index[String(id.dropLast(Self.controlSuffix.count))] != nil)
    }
    let orphans =
      Array(modelsByOffer.keys) + bundle.trees.keys.filter { !known($0) }
      + bundle.models.calibrations.keys.filter { !known($0) }
    if let orphan = orphans.sorted().first {
      throw ArbiterError(.failedPrecondition, "models.json has a model for '\(orphan)', which the catalogue lacks")
    }
    return (compiled, index, weights)
  }

  /// "catalogue.json line N, offers[i] ('id')".
  private func what(_ position: Int, _ offer: OfferDefinition) -> String {
    at("offers[\(position)]") + " ('\(offer.id)')"
  }

  /// The offer's propensity model: its logistic model or its tree ensemble (one of the two),
  /// with its calibration; checks its value, lever and channels on the way.
  private func model(
    of offer: OfferDefinition, at position: Int, logistic: LogisticModelDocument?, treesOf modelOffer: String? = nil
  ) throws(ArbiterError) -> PropensityModel {
    let what = what(position, offer)
    guard offer.value.isFinite, offer.value >= 0 else {
      throw ArbiterError(.invalidArgument, "\(what): value must be a finite number >= 0")
    }
    guard !offer.channels.isEmpty else { throw ArbiterError(.invalidArgument, "\(what): channels is empty") }
    guard offer.lever.isFinite, offer.lever >= 0 else {
      throw invalid("offers[\(position)].lever", "must be finite and >= 0")
    }
    return try propensityModel(id: modelOffer ?? offer.id, what: what, logistic: logistic)
  }

  /// An offer without a trained model under adaptive learning: the prior's constant log-odds.
  private func priorModel(of offer: OfferDefinition, at position: Int) throws(ArbiterError) -> PropensityModel {
    let prior = LogisticModelDocument(
      offerId: offer.id, intercept: catalogue.adaptive!.newOfferLogOdds, terms: [],
      metrics: TrainingMetrics(
        trainRows: 0, holdoutRows: 0, trainPositives: 0, holdoutPositives: 0, trainAUC: .nan, holdoutAUC: .nan,
        holdoutLogLoss: .nan, iterations: 0, l2: 0))
    guard offer.value.isFinite, offer.value >= 0, !offer.channels.isEmpty, offer.lever.isFinite, offer.lever >= 0 else {
      return try model(of: offer, at: position, logistic: prior)
    }
    return PropensityModel(.logistic(try CompiledLogisticModel(prior, schema: schema)), calibration: nil)
  }

  /// A control model is the offer's id with this suffix in models.json ("gold-card/control").
  static let controlSuffix = "/control"

  /// The model with `id` in models.json: its logistic model or its tree ensemble (one of the
  /// two), with its calibration.
  private func propensityModel(
    id: String, what: String, logistic: LogisticModelDocument?
  ) throws(ArbiterError) -> PropensityModel {
    let calibration = bundle.models.calibrations[id]
    try calibration?.validate("models.json: calibrations.\(id)")
    switch (logistic, bundle.trees[id]) {
    case (let document?, nil):
      return PropensityModel(.logistic(try CompiledLogisticModel(document, schema: schema)), calibration: calibration)
    case (nil, let ensemble?):
      return PropensityModel(
        .trees(ensemble, featureNames: schema.customerFeatures.map(\.name)), calibration: calibration)
    case (nil, nil): throw ArbiterError(.failedPrecondition, "\(what): no propensity model in models.json")
    case (_?, _?): throw ArbiterError(.invalidArgument, "\(what): both a logistic and a tree model; keep one")
    }
  }

  /// Per channel ordinal: the title, message and (assisted channels) agent script, compiled.
  private func treatments(
    of offer: OfferDefinition, at position: Int
  ) throws(ArbiterError) -> [(title: CompiledTemplate, message: CompiledTemplate, script: CompiledTemplate?)?] {
    var treatments: [(title: CompiledTemplate, message: CompiledTemplate, script: CompiledTemplate?)?] =
      Array(repeating: nil, count: Channel.allCases.count)
    let what = what(position, offer)
    for channel in offer.channels {
      guard let template = offer.treatment(for: channel) else {
        throw ArbiterError(.invalidArgument, "\(what): no treatment for channel '\(channel.name)' and no 'default'")
      }
      let at = "\(what).treatments.\(channel.name)"
      let script = try template.agentScript.map { text throws(ArbiterError) in
        try CompiledTemplate(text, schema: schema, what: at)
      }
      if channel.isAssisted && script == nil {
        throw ArbiterError(.invalidArgument, "\(at): assisted channel needs an agentScript")
      }
      treatments[channel.ordinal] = (
        try CompiledTemplate(template.title, schema: schema, what: at),
        try CompiledTemplate(template.message, schema: schema, what: at), script
      )
    }
    return treatments
  }

  /// Per channel ordinal: the capacity units the offer uses (its own, where it sets them).
  private func units(
    of offer: OfferDefinition, at position: Int, unitsPerOffer: [Double], budgets: [PacingState.Budget?]
  ) throws(ArbiterError) -> [Double] {
    var units = unitsPerOffer
    if let own = offer.capacityUnits {
      guard own.isFinite, own >= 0 else {
        throw invalid("offers[\(position)].capacityUnits", "must be finite and >= 0")
      }
      for c in units.indices where budgets[c] != nil { units[c] = own }
    }
    return units
  }

  /// The offer's quota and the units one offer uses of it: its own quota (1 unit), or the
  /// capacity of the channel that fulfils it (that channel's units per offer, or the offer's own).
  private func quota(
    of offer: OfferDefinition, at position: Int, unitsPerOffer: [Double], budgets: [PacingState.Budget?]
  ) throws(ArbiterError) -> (budget: PacingState.Budget, units: Double)? {
    if let fulfilment = offer.fulfilledBy {
      guard offer.quota == nil else {
        throw invalid(
          "offers[\(position)].quota", "an offer fulfilled by \(fulfilment.name) uses its capacity; drop the quota")
      }
      guard !offer.channels.contains(fulfilment) else {
        throw invalid(
          "offers[\(position)].fulfilledBy", "\(fulfilment.name) is one of the offer's own channels")
      }
      guard let budget = budgets[fulfilment.ordinal] else { return nil }
      let units = offer.capacityUnits ?? unitsPerOffer[fulfilment.ordinal]
      guard units.isFinite, units > 0 else {
        throw invalid("offers[\(position)].capacityUnits", "must be finite and > 0")
      }
      return (budget, units)
    }
    guard let q = offer.quota else { return nil }
    guard q.limit >= 1 else { throw invalid("offers[\(position)].quota.limit", "must be at least 1") }
    let budget = pacing.budget(
      key: "quota:\(offer.id)", limit: Double(q.limit), periodDays: q.period.days,
      priceScale: offer.value * offer.lever)
    return (budget, 1)
  }

  /// Per channel ordinal: its opening hours, compiled; a channel given twice is refused.
  func openingHours() throws(ArbiterError) -> [CompiledOpeningHours?] {
    var hours = [CompiledOpeningHours?](repeating: nil, count: Channel.allCases.count)
    for (k, entry) in catalogue.openingHours.enumerated() {
      guard hours[entry.channel.ordinal] == nil else {
        throw invalid("openingHours[\(k)]", "channel \(entry.channel.name) twice")
      }
      do {
        hours[entry.channel.ordinal] = try CompiledOpeningHours(entry, field: "openingHours[\(k)]")
      } catch {
        throw ArbiterError(.invalidArgument, "\(file): \(error.message)")
      }
    }
    return hours
  }
}
