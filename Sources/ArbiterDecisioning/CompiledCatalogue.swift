import ArbiterCore
import ArbiterModels

/// One offer ready for decisions: rules resolved to feature indices, treatments compiled per
/// channel, its propensity model compiled.
///
/// A class, so that walking the catalogue per decision touches one reference per offer rather
/// than copying (and retaining) every field.
public final class CompiledOffer: Sendable {
  public let index: Int
  public let definition: OfferDefinition
  /// Per channel ordinal: title, message and (assisted channels) agent script.
  public let treatments: [(title: CompiledTemplate, message: CompiledTemplate, script: CompiledTemplate?)?]
  public let model: PropensityModel
  /// Per channel ordinal: the cost of a contact, and the capacity units an offer uses.
  public let costs: [Double]
  public let capacityUnits: [Double]
  public let quota: PacingState.Budget?
  /// The control group the offer belongs to, and its hash with the control salt.
  public let group: String
  let groupHash: UInt64
  /// Hot copies of the definition's numbers.
  public let value: Double
  public let lever: Double

  init(
    index: Int, definition: OfferDefinition, treatments: [(title: CompiledTemplate, message: CompiledTemplate, script: CompiledTemplate?)?],
    model: PropensityModel, costs: [Double], capacityUnits: [Double], quota: PacingState.Budget?, group: String, salt: String
  ) {
    var hash = FNV1a()
    hash.combine(group)
    hash.combine(0)
    hash.combine(salt)
    self.groupHash = hash.value
    self.index = index
    self.definition = definition
    self.treatments = treatments
    self.model = model
    self.costs = costs
    self.capacityUnits = capacityUnits
    self.quota = quota
    self.group = group
    self.value = definition.value
    self.lever = definition.lever
  }
}

/// The catalogue and its models compiled against a schema, validated as a whole: every offer
/// has a model and a treatment for each of its channels, every feature named exists.
public final class CompiledCatalogue: Sendable {
  public let offers: [CompiledOffer]
  /// Channel, consent, held-product, age and condition rules, shared with offline tools.
  public let rules: EligibilityRules
  /// Context keys ("reason:travel", "page:cards") → column of ``contextWeights``.
  public let contextKeys: [String: Int]
  /// `contextWeights[offer * contextKeys.count + key]`, 1 where the catalogue sets none.
  public let contextWeights: [Double]
  /// Index of the context feature filled with the channel, if the schema has one.
  public let channelContextFeature: Int?
  /// Per customer feature then context feature (in ``FeatureSchema/source(of:)`` order): phrases.
  public let phrases: [String: FeaturePhrase]
  public let offerIndex: [String: Int]
  /// How a request's customer and context values are prepared for the logistic models.
  public let scoringLayout: ScoringLayout

  public let contactPolicy: ContactPolicy
  public let controlGroup: ControlGroupPolicy?
  public let exploration: ExplorationPolicy
  public let arbitration: ArbitrationPolicy
  public let maxPerCategoryPerPage: Int
  /// Per channel ordinal: the channel's capacity budget, if it has one.
  public let capacityBudgets: [PacingState.Budget?]
  /// What a decision reads of every offer, as plain values (see ``HotOffer``), and per
  /// `offer * Channel.allCases.count + channel`: the contact cost and the capacity units.
  let hot: [HotOffer]
  let hotCosts: [Double]
  let hotUnits: [Double]

  public init(bundle: ModelBundle, pacing: PacingState = PacingState()) throws(ArbiterError) {
    let schema = bundle.schema
    let catalogue = bundle.catalogue
    scoringLayout = ScoringLayout(schema: schema)
    let file = bundle.directory.map { "\($0)/\(ModelBundle.catalogueFile)" } ?? ModelBundle.catalogueFile
    rules = try EligibilityRules(catalogue: catalogue, schema: schema, file: file)
    func at(_ path: String) -> String { JSONLocator.describe(file: file, path: path) }
    func channelTable(_ values: [String: Double], _ field: String, fallback: [Double]) throws(ArbiterError) -> [Double] {
      var table = fallback
      for (name, value) in values {
        guard let channel = Channel(name: name) else { throw ArbiterError(.invalidArgument, "\(at("\(field).\(name)")): unknown channel '\(name)'") }
        guard value.isFinite, value >= 0 else { throw ArbiterError(.invalidArgument, "\(at("\(field).\(name)")): must be a finite number >= 0") }
        table[channel.ordinal] = value
      }
      return table
    }
    let defaultCosts = try channelTable(catalogue.channelCosts, "channelCosts", fallback: [Double](repeating: 0, count: Channel.allCases.count))
    var unitsPerOffer = [Double](repeating: 0, count: Channel.allCases.count)
    var budgets = [PacingState.Budget?](repeating: nil, count: Channel.allCases.count)
    let largestValue = catalogue.offers.map(\.value).max() ?? 0
    for (k, capacity) in catalogue.capacity.enumerated() {
      guard capacity.unitsPerHour.isFinite, capacity.unitsPerHour > 0, capacity.unitsPerOffer.isFinite, capacity.unitsPerOffer > 0 else {
        throw ArbiterError(.invalidArgument, "\(at("capacity[\(k)]")): unitsPerHour and unitsPerOffer must be positive")
      }
      guard budgets[capacity.channel.ordinal] == nil else { throw ArbiterError(.invalidArgument, "\(at("capacity[\(k)]")): channel \(capacity.channel.name) twice") }
      unitsPerOffer[capacity.channel.ordinal] = capacity.unitsPerOffer
      budgets[capacity.channel.ordinal] = pacing.budget(
        "capacity:\(capacity.channel.name)", limit: capacity.unitsPerHour, periodDays: 1.0 / 24, priceScale: largestValue / capacity.unitsPerOffer)
    }
    capacityBudgets = budgets
    let policy = catalogue.contactPolicy
    for (k, cap) in policy.frequencyCaps.enumerated() where cap.max < 1 || !(cap.windowDays > 0) {
      throw ArbiterError(.invalidArgument, "\(at("contactPolicy.frequencyCaps[\(k)]")): max must be >= 1 and windowDays > 0")
    }
    guard policy.declineCooldownDays >= 0, policy.noRepeatDays >= 0, policy.maxOffersPerWeek >= 0 else {
      throw ArbiterError(.invalidArgument, "\(at("contactPolicy")): days and limits must not be negative")
    }
    contactPolicy = policy
    if let control = catalogue.controlGroup {
      guard control.share >= 0, control.share < 1, control.periodDays > 0 else {
        throw ArbiterError(.invalidArgument, "\(at("controlGroup")): share must be in [0, 1) and periodDays > 0")
      }
    }
    controlGroup = catalogue.controlGroup
    let exploration = catalogue.exploration
    guard exploration.epsilon >= 0, exploration.epsilon <= 1, exploration.temperature > 0 else {
      throw ArbiterError(.invalidArgument, "\(at("exploration")): epsilon must be in [0, 1] and temperature > 0")
    }
    self.exploration = exploration
    guard catalogue.arbitration.inboundCostShare >= 0, catalogue.arbitration.inboundCostShare <= 1 else {
      throw ArbiterError(.invalidArgument, "\(at("arbitration.inboundCostShare")): must be in [0, 1]")
    }
    arbitration = catalogue.arbitration
    guard catalogue.maxPerCategoryPerPage >= 0 else { throw ArbiterError(.invalidArgument, "\(at("maxPerCategoryPerPage")): must not be negative") }
    maxPerCategoryPerPage = catalogue.maxPerCategoryPerPage

    var modelsByOffer: [String: LogisticModelDocument] = [:]
    for model in bundle.models.models {
      guard modelsByOffer.updateValue(model, forKey: model.offerId) == nil else {
        throw ArbiterError(.invalidArgument, "models.json has two models for offer '\(model.offerId)'")
      }
    }
    var keys: [String: Int] = [:]
    for offer in catalogue.offers {
      for key in offer.contextWeights.keys.sorted() where keys[key] == nil { keys[key] = keys.count }
    }
    contextKeys = keys
    var weights = [Double](repeating: 1, count: catalogue.offers.count * max(keys.count, 1))
    var compiled: [CompiledOffer] = []
    var index: [String: Int] = [:]
    for (position, offer) in catalogue.offers.enumerated() {
      let what = at("offers[\(position)]") + " ('\(offer.id)')"
      guard index.updateValue(position, forKey: offer.id) == nil else {
        throw ArbiterError(.invalidArgument, "\(what): duplicate offer id")
      }
      guard offer.value.isFinite, offer.value >= 0 else { throw ArbiterError(.invalidArgument, "\(what): value must be a finite number >= 0") }
      guard !offer.channels.isEmpty else { throw ArbiterError(.invalidArgument, "\(what): channels is empty") }
      let logistic = modelsByOffer.removeValue(forKey: offer.id)
      let trees = bundle.trees[offer.id]
      let model: PropensityModel
      let calibration = bundle.models.calibrations[offer.id]
      try calibration?.validate("models.json: calibrations.\(offer.id)")
      switch (logistic, trees) {
      case (let document?, nil): model = PropensityModel(.logistic(try CompiledLogisticModel(document, schema: schema)), calibration: calibration)
      case (nil, let ensemble?): model = PropensityModel(.trees(ensemble, featureNames: schema.customerFeatures.map(\.name)), calibration: calibration)
      case (nil, nil): throw ArbiterError(.failedPrecondition, "\(what): no propensity model in models.json")
      case (_?, _?): throw ArbiterError(.invalidArgument, "\(what): both a logistic and a tree model; keep one")
      }
      var treatments: [(title: CompiledTemplate, message: CompiledTemplate, script: CompiledTemplate?)?] =
        Array(repeating: nil, count: Channel.allCases.count)
      for channel in offer.channels {
        guard let template = offer.treatment(for: channel) else {
          throw ArbiterError(.invalidArgument, "\(what): no treatment for channel '\(channel.name)' and no 'default'")
        }
        let at = "\(what).treatments.\(channel.name)"
        let script = try template.agentScript.map { text throws(ArbiterError) in try CompiledTemplate(text, schema: schema, what: at) }
        if channel.isAssisted && script == nil {
          throw ArbiterError(.invalidArgument, "\(at): assisted channel needs an agentScript")
        }
        treatments[channel.ordinal] = (
          try CompiledTemplate(template.title, schema: schema, what: at),
          try CompiledTemplate(template.message, schema: schema, what: at), script
        )
      }
      for (key, weight) in offer.contextWeights {
        guard weight.isFinite, weight >= 0 else { throw ArbiterError(.invalidArgument, "\(what).contextWeights.\(key): must be finite and >= 0") }
        weights[position * keys.count + keys[key]!] = weight
      }
      guard offer.lever.isFinite, offer.lever >= 0 else { throw ArbiterError(.invalidArgument, "\(at("offers[\(position)].lever")): must be finite and >= 0") }
      let costs = try channelTable(offer.costs, "offers[\(position)].costs", fallback: defaultCosts)
      var units = unitsPerOffer
      if let own = offer.capacityUnits {
        guard own.isFinite, own >= 0 else { throw ArbiterError(.invalidArgument, "\(at("offers[\(position)].capacityUnits")): must be finite and >= 0") }
        for c in units.indices where budgets[c] != nil { units[c] = own }
      }
      var quota: PacingState.Budget?
      if let q = offer.quota {
        guard q.limit >= 1 else { throw ArbiterError(.invalidArgument, "\(at("offers[\(position)].quota.limit")): must be at least 1") }
        quota = pacing.budget("quota:\(offer.id)", limit: Double(q.limit), periodDays: q.period.days, priceScale: offer.value * offer.lever)
      }
      compiled.append(
        CompiledOffer(
          index: position, definition: offer, treatments: treatments, model: model, costs: costs, capacityUnits: units, quota: quota,
          group: offer.group ?? offer.category, salt: catalogue.controlGroup?.salt ?? ""))
    }
    let orphans = Array(modelsByOffer.keys) + bundle.trees.keys.filter { index[$0] == nil } + bundle.models.calibrations.keys.filter { index[$0] == nil }
    if let orphan = orphans.sorted().first {
      throw ArbiterError(.failedPrecondition, "models.json has a model for '\(orphan)', which the catalogue lacks")
    }
    offers = compiled
    hot = compiled.map { offer in
      HotOffer(value: offer.value, lever: offer.lever, groupHash: offer.groupHash, hasQuota: offer.quota != nil, logistic: offer.model.unretainedLogistic)
    }
    hotCosts = compiled.flatMap(\.costs)
    hotUnits = compiled.flatMap(\.capacityUnits)
    offerIndex = index
    contextWeights = weights
    channelContextFeature = schema.contextFeatures.firstIndex { $0.name == "channel" }
    phrases = catalogue.featurePhrases
  }

  /// Whether the customer is held out of the offer's group this period: a hash of customer,
  /// group, period and salt, below the control share. Stable for the period, independent
  /// across groups.
  public func isControl(customer: UInt64, offer: Int, nowDays: Double) -> Bool {
    guard let control = controlPeriod(nowDays: nowDays) else { return false }
    return Self.isControl(customer: customer, groupHash: hot[offer].groupHash, period: control.period, share: control.share)
  }

  /// The control group's period number at `nowDays` and its share; nil when there is none.
  func controlPeriod(nowDays: Double) -> (period: UInt64, share: Double)? {
    guard let control = controlGroup, control.share > 0 else { return nil }
    return (UInt64(max(0, (nowDays / control.periodDays).rounded(.down))), control.share)
  }

  @inline(__always)
  static func isControl(customer: UInt64, groupHash: UInt64, period: UInt64, share: Double) -> Bool {
    var seed = SeededGenerator.mix(customer ^ groupHash, salt: period)
    seed = SeededGenerator.mix(seed, salt: 0x5eed)
    return Double(seed >> 11) / Double(1 << 53) < share
  }

  /// The context-key column for a call reason or page, or nil when no offer weighs it.
  public func contextKey(_ key: String) -> Int? { contextKeys[key] }
}

/// The numbers a decision reads of an offer for every candidate, as a plain value: walking the
/// catalogue per decision then touches no reference count (which two event-loop threads would
/// otherwise bounce between their caches).
struct HotOffer: Sendable {
  var value: Double
  var lever: Double
  var groupHash: UInt64
  var hasQuota: Bool
  /// Set for an uncalibrated logistic model; others score through the offer's model.
  var logistic: UnretainedLogistic?
}
