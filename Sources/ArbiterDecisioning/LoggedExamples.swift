import ArbiterCore
import ArbiterModels
import Foundation

/// Training examples from what a server logged: each offer a decision made, with the features its
/// models saw (logged with the decision), labelled by the outcomes recorded for it — accepted or
/// converted within the window is positive; declined, or no such outcome within the window, is
/// negative; an offer whose window has not closed by the end of the log is left out (pending).
/// Optionally weighted by the inverse of the probability the offer was shown with (capped at
/// `maximumWeight`), so that learning from an exploring policy is less biased.
public struct LoggedExamples: Sendable {
  /// What was read, for the report.
  public struct Counts: Sendable, Hashable {
    public var decisions = 0
    public var offersShown = 0
    public var positives = 0
    public var declined = 0
    public var noOutcomeInWindow = 0
    public var pending = 0
    public var impressions = 0
    public var shadowDecisions = 0
    /// Decisions logged before features were (no `features` member): left out.
    public var withoutFeatures = 0
    /// Decisions of another schema width (another bundle's features): left out.
    public var otherWidth = 0
  }

  /// Training sets by offer id.
  public var sets: [String: TrainingSet] = [:]
  public var counts = Counts()

  /// Reads the log files in order. Refuses, naming the file and line: a line that is not JSON of
  /// the log's shape, features that do not decode, and an outcome for a decision the log does not
  /// have (unless `unknownOutcomesAllowed`, when they are counted in `unknownOutcomes`).
  public static func read(
    paths: [String], customerWidth: Int, contextWidth: Int, window: Duration, weighByProbability: Bool,
    maximumWeight: Double = 10, unknownOutcomesAllowed: Bool = false
  ) throws(ArbiterError) -> (LoggedExamples, unknownOutcomes: [String]) {
    let log = try LoggedDecisions.read(paths: paths, window: window)
    var result = LoggedExamples()
    result.counts.decisions = log.entries.count
    result.counts.impressions = log.impressions
    result.counts.shadowDecisions = log.shadowDecisions
    if !log.unknownOutcomes.isEmpty && !unknownOutcomesAllowed {
      throw ArbiterError(
        .invalidArgument,
        "\(log.unknownOutcomes.count) outcome(s) for decisions the log does not have, first: "
          + "\(log.unknownOutcomes.prefix(3).joined(separator: "; ")); "
          + "give the earlier log files too, or allow them with --skip-unknown-outcomes")
    }
    for decision in log.entries {
      guard let features = decision.features else {
        result.counts.withoutFeatures += 1
        continue
      }
      guard features.count == customerWidth + contextWidth else {
        result.counts.otherWidth += 1
        continue
      }
      let customer = features[0..<customerWidth]
      let context = features[customerWidth...]
      for shown in decision.shown {
        result.counts.offersShown += 1
        let label: Bool
        if let outcome = decision.settled[shown.offerId] {
          label = outcome
          if outcome { result.counts.positives += 1 } else { result.counts.declined += 1 }
        } else if log.isSettled(decision, window: window) {
          label = false
          result.counts.noOutcomeInWindow += 1
        } else {
          result.counts.pending += 1
          continue
        }
        // Inverse-probability weights, capped (a rarely explored offer would otherwise outweigh
        // hundreds of others: the variance of uncapped weights undoes what they correct).
        let weight = weighByProbability && shown.probability > 0 ? min(maximumWeight, 1 / shown.probability) : 1
        result.sets[shown.offerId, default: TrainingSet(customerWidth: customerWidth, contextWidth: contextWidth)]
          .append(customer: customer, context: context, label: label, group: decision.customerId, weight: weight)
      }
    }
    return (result, log.unknownOutcomes)
  }
}

extension LoggedExamples {
  /// What retraining did for one offer.
  public struct OfferRetraining: Sendable {
    public var offerId: String
    public var examples: Int
    public var positives: Int
    /// Nil when retrained; else why the current model was kept.
    public var keptBecause: String?
    /// Hold-out AUC of the new model, or of the kept one.
    public var holdoutAUC: Double
  }

  /// A logistic model per offer of `current`'s catalogue fitted to the logged examples; an offer
  /// with too few of them (or of one class) keeps its current model, and says so.
  public func retrain(
    current: ModelBundle, trainer: LogisticTrainer, minimumExamples: Int = 100
  ) -> (ModelsDocument, [OfferRetraining]) {
    var document = ModelsDocument(models: [], treeModels: [], calibrations: [:])
    var report: [OfferRetraining] = []
    for offer in current.catalogue.offers {
      let set = sets[offer.id]
      let examples = set?.count ?? 0
      let positives = set?.labels.lazy.filter { $0 }.count ?? 0
      var why: String?
      if examples < minimumExamples {
        why = "\(examples) logged examples, fewer than \(minimumExamples)"
      } else if positives < 5 || examples - positives < 5 {
        why = "\(positives) positive of \(examples): too few of one class"
      }
      if why == nil, let set {
        do {
          let model = try trainer.train(offerId: offer.id, schema: current.schema, data: set)
          if model.metrics.holdoutAUC.isFinite && model.metrics.holdoutLogLoss.isFinite {
            document.models.append(model)
            report.append(
              OfferRetraining(
                offerId: offer.id, examples: examples, positives: positives, keptBecause: nil,
                holdoutAUC: model.metrics.holdoutAUC))
            continue
          }
          why = "no hold-out rows with both outcomes to measure the new model"
        } catch {
          why = error.message
        }
      }
      // Keep the current model (and its calibration).
      if let logistic = current.models.models.first(where: { $0.offerId == offer.id }) {
        document.models.append(logistic)
      }
      if let tree = current.models.treeModels.first(where: { $0.offerId == offer.id }) {
        document.treeModels.append(tree)
      }
      if let calibration = current.models.calibrations[offer.id] { document.calibrations[offer.id] = calibration }
      report.append(
        OfferRetraining(
          offerId: offer.id, examples: examples, positives: positives, keptBecause: why,
          holdoutAUC: current.manifest.holdoutAUC[offer.id] ?? .nan))
    }
    return (document, report)
  }
}
