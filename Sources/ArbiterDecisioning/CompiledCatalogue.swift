import ArbiterCore
import ArbiterModels

/// One offer ready for decisions: rules resolved to feature indices, treatments compiled per
/// channel, its propensity model compiled.
public struct CompiledOffer: Sendable {
  public let index: Int
  public let definition: OfferDefinition
  /// Per channel ordinal: title, message and (assisted channels) agent script.
  public let treatments: [(title: CompiledTemplate, message: CompiledTemplate, script: CompiledTemplate?)?]
  public let model: PropensityModel
}

/// The catalogue and its models compiled against a schema, validated as a whole: every offer
/// has a model and a treatment for each of its channels, every feature named exists.
public struct CompiledCatalogue: Sendable {
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

  public init(bundle: ModelBundle) throws(ArbiterError) {
    let schema = bundle.schema
    let catalogue = bundle.catalogue
    scoringLayout = ScoringLayout(schema: schema)
    let file = bundle.directory.map { "\($0)/\(ModelBundle.catalogueFile)" } ?? ModelBundle.catalogueFile
    rules = try EligibilityRules(catalogue: catalogue, schema: schema, file: file)

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
      let what = "\(file): offers[\(position)] ('\(offer.id)')"
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
      compiled.append(
        CompiledOffer(
          index: position, definition: offer, treatments: treatments,
          model: model))
    }
    let orphans = Array(modelsByOffer.keys) + bundle.trees.keys.filter { index[$0] == nil } + bundle.models.calibrations.keys.filter { index[$0] == nil }
    if let orphan = orphans.sorted().first {
      throw ArbiterError(.failedPrecondition, "models.json has a model for '\(orphan)', which the catalogue lacks")
    }
    offers = compiled
    offerIndex = index
    contextWeights = weights
    channelContextFeature = schema.contextFeatures.firstIndex { $0.name == "channel" }
    phrases = catalogue.featurePhrases
  }

  /// The context-key column for a call reason or page, or nil when no offer weighs it.
  public func contextKey(_ key: String) -> Int? { contextKeys[key] }

  @inlinable
  public func contextWeight(offer: Int, key: Int?) -> Double {
    guard let key else { return 1 }
    return contextWeights[offer * contextKeys.count + key]
  }
}
