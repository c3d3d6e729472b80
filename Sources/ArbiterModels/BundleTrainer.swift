import ArbiterCore

/// Trains one propensity model per catalogue offer from an offer history and assembles a bundle.
public struct BundleTrainer: Sendable {
  /// The logistic trainer every offer's model is fitted with (its settings apply to all offers).
  public var trainer = LogisticTrainer()

  /// A bundle trainer with the default logistic trainer settings.
  public init() {}

  /// One line of the training report.
  public struct Report: Sendable {
    /// The offer the model was trained for.
    public var offerId: String
    /// How well the model did.
    public var metrics: TrainingMetrics
    /// How many terms the fitted model has.
    public var terms: Int
  }

  /// Trains a model per offer. Throws naming an offer the history has too little data for, or a
  /// history row whose customer or offer is unknown.
  public func train(
    schema: FeatureSchema, catalogue: CatalogueDocument, customers: CustomerStore, history: [HistoryRecord],
    progress: (Report) -> Void = { _ in }
  ) throws(ArbiterError) -> ModelsDocument {
    guard schema.layout == customers.schema.layout else {
      throw ArbiterError(.failedPrecondition, "customers were loaded with a different schema")
    }
    let channelFeature = schema.contextFeatures.firstIndex { $0.name == "channel" }
    var sets: [String: TrainingSet] = [:]
    for offer in catalogue.offers {
      sets[offer.id] = TrainingSet(customerWidth: schema.width, contextWidth: schema.contextFeatures.count)
    }
    var context = [Float](repeating: .nan, count: schema.contextFeatures.count)
    for (line, record) in history.enumerated() {
      guard let row = customers.row(of: record.customerId) else {
        throw ArbiterError(
          .invalidArgument, "history row \(line + 1): customer \(record.customerId) is not in the customer file")
      }
      guard sets[record.offerId] != nil else {
        throw ArbiterError(
          .invalidArgument, "history row \(line + 1): offer '\(record.offerId)' is not in the catalogue")
      }
      if let channelFeature { context[channelFeature] = Float(record.channel.ordinal) }
      customers.withRow(row) { vector in
        sets[record.offerId]!.append(
          customer: vector, context: context, label: record.accepted, group: record.customerId)
      }
    }
    var models: [LogisticModelDocument] = []
    for offer in catalogue.offers {
      let model = try trainer.train(offerId: offer.id, schema: schema, data: sets[offer.id]!)
      progress(Report(offerId: offer.id, metrics: model.metrics, terms: model.terms.count))
      models.append(model)
    }
    return ModelsDocument(models: models)
  }
}
