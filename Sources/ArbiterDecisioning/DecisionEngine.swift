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
  /// How many offers a decision returns when the request does not say (3).
  public static let defaultMaxOffers = 3
  /// The most offers one decision may return (50); requests asking for more are refused.
  public static let maxOffersLimit = 50
  /// How many reason codes each offer carries.
  public static let reasonsPerOffer = 3

  /// The compiled catalogue the engine decides with.
  public let catalogue: CompiledCatalogue
  /// The customers whose feature vectors the engine reads.
  public let customers: FeatureStore
  /// The feature schema of the bundle (its layout matches the customers').
  public let schema: FeatureSchema
  /// The bundle, catalogue and schema versions stamped on every decision.
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

  /// `pacing` carries quota and capacity use across reloads (a new one starts empty), `adaptive`
  /// the adaptive models (a catalogue with an adaptive section and none given gets a new table).
  public init(
    bundle: ModelBundle, customers: FeatureStore, clock: @escaping @Sendable () -> Double = { FeatureStore.nowDays },
    pacing: PacingState = PacingState(), adaptive: AdaptiveModels? = nil
  ) throws(ArbiterError) {
    self.clock = clock
    guard bundle.schema.layout == customers.schema.layout else {
      throw ArbiterError(
        .failedPrecondition,
        "bundle \(bundle.manifest.name)/\(bundle.manifest.version) was built for a different feature schema "
          + "than the loaded customers"
      )
    }
    self.catalogue = try CompiledCatalogue(
      bundle: bundle, pacing: pacing, adaptive: adaptive, customers: customers, nowDays: clock())
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
      ReasonPhrases(model: offer.model, schema: schema, phrases: catalogue.phrases, typicalValues: typicalValues) {
        labels[$0] ?? $0
      }
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
  ///
  /// The stages, in order (each a method of ``DecisionEngine``, with the decision's state in a
  /// ``DecisionState``): validate → context → candidates (eligibility, suitability, contact
  /// policy, quota and capacity, score, control group) → draw → explain → present.
  public func decide(
    _ request: DecisionRequest, decisionId: String, contacts history: [ContactRecord], slots: [SlotRequest]? = nil
  ) throws(ArbiterError) -> Decision {
    let started = DispatchTime.now().uptimeNanoseconds
    let row = try validate(request)
    let context = contextValues(for: request)
    var state = beginDecision(request, decisionId: decisionId, contacts: history, slots: slots, started: started)
    // Consents come from the store's ledger (one atomic load); without profiling consent on the
    // channel the decision sees none of the customer's stored features.
    let consents = row.map { customers.consents(row: $0) } ?? .none
    let profiled = row != nil && consents.allows(request.channel, .profiling)
    return withCustomer(profiled ? row : nil) { (customer: UnsafeBufferPointer<Float>) -> Decision in
      context.withUnsafeBufferPointer { (contextValues: UnsafeBufferPointer<Float>) -> Decision in
        ScoringRow.prepare(layout: catalogue.scoringLayout, customer: customer, context: contextValues) { scoringRow in
          withAdaptiveInputs(customer: customer) { adaptive in
            var inputs = DecisionInputs(consents: consents, customer: customer, context: contextValues, row: scoringRow)
            inputs.adaptive = adaptive
            collectCandidates(&state, inputs)
            draw(&state)
            explainUnshown(&state)
            return present(state, inputs, row: row)
          }
        }
      }
    }
  }

  /// Gives back the quota and channel capacity a decision reserved for its offers, when its
  /// answer is not sent (its caller's deadline passed): as if it had not been made.
  public func releaseReservations(of decision: Decision) {
    let now = clock()
    let budget = catalogue.capacityBudgets[decision.channel.ordinal]
    for offer in decision.offers {
      let compiled = catalogue.offers[offer.offerIndex]
      compiled.quota?.release(compiled.quotaUnits, at: now)
      budget?.release(compiled.capacityUnits[decision.channel.ordinal], at: now)
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
            ScoringRow.prepare(layout: catalogue.scoringLayout, customer: customer, context: c) { scoringRow in
              catalogue.offers.first { offer in
                let p = offer.model.propensity(row: scoringRow, customer: customer, context: c)
                return !(p.isFinite && p >= 0 && p <= 1)
              }
            }
          }
          if let bad {
            return ArbiterError(
              .failedPrecondition,
              "probe: the model of offer '\(bad.definition.id)' does not score customer \(ids[index]) "
                + "on \(channel.name) as a probability"
            )
          }
        }
        return nil
      }
      if let failure { throw failure }
    }
  }

  /// Runs `body` over the customer's standardised features for the adaptive models (on the
  /// stack), or over none when the catalogue has no adaptive models.
  func withAdaptiveInputs<R>(customer: UnsafeBufferPointer<Float>, _ body: (UnsafeBufferPointer<Double>) -> R) -> R {
    guard let models = catalogue.adaptive?.models else { return body(UnsafeBufferPointer(start: nil, count: 0)) }
    return withUnsafeTemporaryAllocation(of: Double.self, capacity: models.columns.count) { s in
      models.standardise(customer: customer, into: s)
      return body(UnsafeBufferPointer(s))
    }
  }

  /// Runs `body` over the customer's vector as it reads now (a consistent copy on the stack), or
  /// over an all-missing vector for an anonymous visitor (every feature scores as the mean).
  func withCustomer<R>(_ row: Int?, _ body: (UnsafeBufferPointer<Float>) -> R) -> R {
    withUnsafeTemporaryAllocation(of: Float.self, capacity: schema.width) { buffer in
      if let row {
        customers.read(row: row, into: buffer, nowDays: clock())
      } else {
        buffer.initialize(repeating: .nan)
      }
      return body(UnsafeBufferPointer(buffer))
    }
  }
}
