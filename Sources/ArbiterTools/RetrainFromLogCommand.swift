import ArbiterCore
import ArbiterDecisioning
import ArbiterModels
import ArgumentParser
import Foundation

/// `arbiter-tools train --from-log`: a new bundle for the same catalogue, its logistic models
/// fitted to what the server logged (the features each decision's models saw, labelled by the
/// outcomes recorded for its offers), packed and validated as a reload is.
struct RetrainFromLog {
  var logs: [String]
  var bundle: String
  var window: Duration
  var weighByProbability: Bool
  var skipUnknownOutcomes: Bool
  var out: String
  var version: String
  var minimumExamples: Int

  func run() throws {
    let current = try failing { try ModelBundle.load(from: bundle) }
    let started = Date()
    let (examples, unknown) = try failing {
      try LoggedExamples.read(
        paths: logs, customerWidth: current.schema.width, contextWidth: current.schema.contextFeatures.count,
        window: window, weighByProbability: weighByProbability, unknownOutcomesAllowed: skipUnknownOutcomes)
    }
    let c = examples.counts
    print(
      "read \(c.decisions) decisions (\(c.withoutFeatures) without features, \(c.otherWidth) of another schema), "
        + "\(c.offersShown) offers shown: \(c.positives) accepted or converted, \(c.declined) declined, "
        + "\(c.noOutcomeInWindow) without an outcome within \(DurationText.format(window)) (negative), "
        + "\(c.pending) pending (window still open, left out); \(c.impressions) impressions"
        + (unknown.isEmpty ? "" : "; \(unknown.count) outcomes for decisions not in the log skipped")
        + " in \(String(format: "%.1f", Date().timeIntervalSince(started))) s")
    let (models, report) = examples.retrain(
      current: current, trainer: LogisticTrainer(), minimumExamples: minimumExamples)
    print("offer                          examples  positive  hold-out AUC")
    for offer in report {
      let id = offer.offerId.padding(toLength: 30, withPad: " ", startingAt: 0)
      let columns = String(format: "%8d  %8d  %12.3f", offer.examples, offer.positives, offer.holdoutAUC)
      print("\(id) \(columns)" + (offer.keptBecause.map { "  kept the current model: \($0)" } ?? "  retrained"))
    }
    var packer = BundlePacker(
      name: current.manifest.name, version: version, schema: current.schema, catalogue: current.catalogue, files: [])
    packer.population = current.manifest.population
    packer.keptFiles = current.extraFiles
    let directory = try failing { try packer.pack(models, extraFiles: [:], into: out) }
    let retrained = report.filter { $0.keptBecause == nil }.count
    print(
      "bundle \(current.manifest.name)/\(version): \(retrained) of \(report.count) offers retrained from the log, "
        + (weighByProbability ? "weighted by 1/probability, " : "") + "validated as a reload; written to \(directory)")
  }
}
