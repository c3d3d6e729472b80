import ArbiterCore
import ArbiterFeatureStore
import ArbiterModels

/// One offer ready for decisions: rules resolved to feature indices, treatments compiled per
/// channel, its propensity model compiled.
///
/// A class, so that walking the catalogue per decision touches one reference per offer rather
/// than copying (and retaining) every field.
public final class CompiledOffer: Sendable {
  /// The offer's position in the catalogue, which is also its index in ``CompiledCatalogue/offers`` and breaks ties.
  public let index: Int
  /// The offer as written in the catalogue.
  public let definition: OfferDefinition
  /// Per channel ordinal: title, message and (assisted channels) agent script.
  public let treatments: [(title: CompiledTemplate, message: CompiledTemplate, script: CompiledTemplate?)?]
  /// The propensity model that scores the offer.
  public let model: PropensityModel
  /// The model of the response without the offer (trained on its control group), for
  /// arbitration on uplift; nil when the bundle has none.
  public let control: PropensityModel?
  /// Whether `model` was trained (false: the adaptive prior of an offer without a model).
  public let hasOfflineModel: Bool
  /// Whether `model` is a look-alike offer's (``OfferDefinition/adaptivePriorFrom``).
  public let lookalike: Bool
  /// Per channel ordinal: the cost of a contact, and the capacity units an offer uses.
  public let costs: [Double]
  /// Per channel ordinal: the capacity units one offer uses (0 on a channel without capacity).
  public let capacityUnits: [Double]
  /// The pacing budget of the offer's quota; nil when the offer has no quota. For an offer
  /// fulfilled by another channel (``OfferDefinition/fulfilledBy``), that channel's capacity.
  public let quota: PacingState.Budget?
  /// The units one offer uses of ``quota``: 1, or the fulfilling channel's capacity units.
  public let quotaUnits: Double
  /// When the fulfilling channel is open; nil when the offer is not fulfilled elsewhere or the
  /// channel has no hours (always open).
  public let opening: CompiledOpeningHours?
  /// The control group the offer belongs to, and its hash with the control salt.
  public let group: String
  let groupHash: UInt64
  /// Hot copies of the definition's numbers.
  public let value: Double
  /// The offer's business lever, multiplying its expected value (1 is neutral).
  public let lever: Double

  init(
    index: Int, definition: OfferDefinition,
    treatments: [(title: CompiledTemplate, message: CompiledTemplate, script: CompiledTemplate?)?],
    model: PropensityModel, control: PropensityModel?, hasOfflineModel: Bool = true, lookalike: Bool = false,
    costs: [Double],
    capacityUnits: [Double],
    quota: (budget: PacingState.Budget, units: Double)?, opening: CompiledOpeningHours?, group: String, salt: String
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
    self.control = control
    self.hasOfflineModel = hasOfflineModel
    self.lookalike = lookalike
    self.costs = costs
    self.capacityUnits = capacityUnits
    self.quota = quota?.budget
    self.quotaUnits = quota?.units ?? 1
    self.opening = opening
    self.group = group
    self.value = definition.value
    self.lever = definition.lever
  }
}

/// The catalogue and its models compiled against a schema, validated as a whole: every offer
/// has a model and a treatment for each of its channels, every feature named exists.
public final class CompiledCatalogue: Sendable {
  /// The compiled offers, in catalogue order.
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
  /// Offer id → index in ``offers``.
  public let offerIndex: [String: Int]
  /// How a request's customer and context values are prepared for the logistic models.
  public let scoringLayout: ScoringLayout

  /// The catalogue's contact policy, validated.
  public let contactPolicy: ContactPolicy
  /// The catalogue's control group policy, validated; nil when there is no control group.
  public let controlGroup: ControlGroupPolicy?
  /// The catalogue's exploration policy, validated.
  public let exploration: ExplorationPolicy
  /// The catalogue's arbitration policy, validated.
  public let arbitration: ArbitrationPolicy
  /// The models that learn from every outcome, when the catalogue has them.
  public let adaptive: CompiledAdaptive?
  /// At most this many offers of one category on a page (0: no limit).
  public let maxPerCategoryPerPage: Int
  /// The most a decision may take, in nanoseconds (nil: only the caller's deadline).
  public let decisionBudget: UInt64?
  /// The offers a decision out of time answers with (their indexes, in order).
  public let fallbackOffers: [Int]
  /// Per channel ordinal: the channel's capacity budget, if it has one.
  public let capacityBudgets: [PacingState.Budget?]
  /// Per channel ordinal: when it is open; nil for a channel without hours (always open).
  public let openingHours: [CompiledOpeningHours?]
  /// What a decision reads of every offer, as plain values (see ``HotOffer``), and per
  /// `offer * Channel.allCases.count + channel`: the contact cost and the capacity units.
  let hot: [HotOffer]
  let hotCosts: [Double]
  let hotUnits: [Double]

  /// Compiles and validates the bundle's catalogue against its schema and models; quotas and
  /// channel capacity come from `pacing` (shared across reloads), adaptive models from
  /// `adaptive` (a new table when nil or of other inputs). Errors name the file, line and field
  /// at fault.
  public init(
    bundle: ModelBundle, pacing: PacingState = PacingState(), adaptive table: AdaptiveModels? = nil,
    customers: FeatureStore? = nil, nowDays: Double = 0
  ) throws(ArbiterError) {
    let compiler = CatalogueCompiler(bundle: bundle, pacing: pacing)
    let catalogue = bundle.catalogue
    scoringLayout = ScoringLayout(schema: bundle.schema)
    rules = try EligibilityRules(catalogue: catalogue, schema: bundle.schema, file: compiler.file)
    let capacity = try compiler.capacity()
    capacityBudgets = capacity.budgets
    openingHours = try compiler.openingHours()
    contactPolicy = try compiler.contactPolicy()
    controlGroup = try compiler.controlGroup()
    exploration = try compiler.exploration()
    arbitration = try compiler.arbitration()
    maxPerCategoryPerPage = try compiler.maxPerCategoryPerPage()
    let keys = CatalogueCompiler.contextKeys(of: catalogue)
    contextKeys = keys
    let compiled = try compiler.offers(
      contextKeys: keys, unitsPerOffer: capacity.unitsPerOffer, budgets: capacity.budgets, hours: openingHours)
    offers = compiled.offers
    offerIndex = compiled.index
    if let policy = catalogue.adaptive {
      if let problem = policy.problem { throw compiler.invalid("adaptive", problem) }
      var models = table
      if models == nil || models!.columns != AdaptiveModels.inputColumns(of: bundle.schema) {
        models = AdaptiveModels(schema: bundle.schema, customers: customers, nowDays: nowDays)
      }
      adaptive = try CompiledAdaptive(
        policy: policy, models: models!, offerIds: compiled.offers.map(\.definition.id),
        priors: compiled.offers.map { $0.hasOfflineModel ? .offline : $0.lookalike ? .lookalike : .new })
    } else {
      guard exploration.method != .thompson else {
        throw compiler.invalid("exploration.method", "thompson needs adaptive models (an \"adaptive\" section)")
      }
      adaptive = nil
    }
    (decisionBudget, fallbackOffers) = try compiler.serviceLevel(offerIndex: compiled.index)
    contextWeights = compiled.contextWeights
    hot = compiled.offers.map { offer in
      HotOffer(
        value: offer.value, lever: offer.lever, groupHash: offer.groupHash, hasQuota: offer.quota != nil,
        hasHours: offer.opening != nil, logistic: offer.model.unretainedLogistic)
    }
    hotCosts = compiled.offers.flatMap(\.costs)
    hotUnits = compiled.offers.flatMap(\.capacityUnits)
    channelContextFeature = bundle.schema.contextFeatures.firstIndex { $0.name == "channel" }
    phrases = catalogue.featurePhrases
  }

  /// Whether the customer is held out of the offer's group this period: a hash of customer,
  /// group, period and salt, below the control share. Stable for the period, independent
  /// across groups.
  public func isControl(customer: UInt64, offer: Int, nowDays: Double) -> Bool {
    guard let control = controlPeriod(nowDays: nowDays) else { return false }
    return Self.isControl(
      customer: customer, groupHash: hot[offer].groupHash, period: control.period, share: control.share)
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
  /// Whether the offer is made only while its fulfilling channel is open.
  var hasHours: Bool
  /// Set for an uncalibrated logistic model; others score through the offer's model.
  var logistic: UnretainedLogistic?
}
