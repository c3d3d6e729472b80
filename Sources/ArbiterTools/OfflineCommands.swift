import ArbiterCore
import ArbiterDemoBank
import ArbiterFeatureStore
import ArbiterLearning
import ArbiterModels
import ArgumentParser
import Foundation

/// Prints a domain error as a CLI message and exits 2.
func failing<T>(_ body: () throws -> T) throws -> T {
  do { return try body() } catch let error as ArbiterError {
    FileHandle.standardError.write(Data("arbiter-tools: \(error.message)\n".utf8))
    throw ExitCode(2)
  }
}

struct Generate: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Build the synthetic demo bank from a seed: customers, catalogue, hidden ground truth, offer history.")

  @Option(help: "Random seed; the same seed gives the same bank.") var seed: UInt64 = 42
  @Option(help: "Number of customers.") var customers = 100_000
  @Option(help: "Output directory.") var out = "demo-data"
  @Flag(help: "Write only customers.csv (for large imports), no history.") var customersOnly = false

  func run() throws {
    guard customers > 0 else { throw ValidationError("--customers must be positive") }
    if customersOnly {
      try DemoDataset.writeCustomers(seed: seed, count: customers, to: out)
      print("\(customers) demo customers (seed \(seed)) written to \(out)/customers.csv")
      return
    }
    let dataset = try failing { try DemoDataset.generate(seed: seed, customers: customers) }
    try dataset.write(to: out)
    let accepted = dataset.history.filter(\.accepted).count
    print("demo bank (seed \(seed)) written to \(out)/")
    print("  customers.csv      \(dataset.customers.count) customers × \(dataset.schema.width) features")
    print("  catalogue.json     \(dataset.catalogue.offers.count) offers")
    let share = String(format: "%.1f", 100 * Double(accepted) / Double(max(1, dataset.history.count)))
    print("  history.csv        \(dataset.history.count) offers made, \(accepted) accepted (\(share)%)")
    print("  ground-truth.json  the hidden response model")
  }
}

struct Train: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Train propensity models: per offer on the demo bank, or trees or logistic regression on any CSV export.",
    discussion: """
      With --csv: reads the export (comma, semicolon, tab or pipe separated, with a header), takes the features \
      from --schema or infers them (numbers, booleans, categories; the report says what it inferred), \
      cross-validates with --folds or checks a --holdout, and writes <out>/model.txt (LightGBM's text format, \
      which LightGBM itself loads) and <out>/schema.json. Settings are LightGBM's, with its defaults. \
      Without --csv: a logistic model per offer from the demo bank written by `generate`, as a bundle.
      """)

  @Option(help: "Directory written by `generate`.") var data = "demo-data"
  @Option(help: "Bundle root (demo bank) or model directory (--csv); default models/demo or trained.") var out: String?
  @Option(help: "Bundle name.") var name = "demo"
  @Option(help: "Bundle version.") var version = "1"

  @Option(help: "A CSV export to train on (gradient-boosted trees unless --learner logistic).") var csv: String?
  @Option(
    name: .customLong("from-log"),
    help: "An interaction log to retrain --bundle's models from (repeatable, oldest first).")
  var fromLog: [String] = []
  @Option(help: "The bundle whose catalogue is retrained (--from-log).") var bundle = "models/demo"
  @Option(help: "How long after a decision an accept or convert counts; no outcome within it is negative (--from-log).")
  var window = "14d"
  @Flag(help: "Weight each logged offer by 1 / the probability it was shown with (--from-log, exploring policies).")
  var weightByProbability = false
  @Flag(help: "Count outcomes for decisions the log does not have instead of refusing (--from-log).")
  var skipUnknownOutcomes = false
  @Option(help: "Fewest logged examples an offer needs to be retrained (--from-log).") var minExamples = 100
  @Option(help: "trees (gradient boosting) or logistic (L2-regularised logistic regression), with --csv.")
  var learner: String = "trees"
  @Option(help: "L2 penalty of the logistic regression (on standardised weights).") var logisticL2 = 1.0
  @Option(help: "Fit platt or isotonic calibration on the held-out scores (needs --folds or --holdout).")
  var calibrate: String?
  @Option(help: "The binary target column (--csv).") var target: String?
  @Option(help: "The target's positive value (default: 1, yes, true, y or t).") var positive: String?
  @Option(help: "A row id column, not a feature.") var id: String?
  @Option(name: .customLong("split-column"), help: "The column that splits rows into folds (integers 0… are the folds).")
  var splitColumn: String?
  @Option(help: "A feature schema (schema.json) instead of inferring the features.") var schema: String?
  @Option(help: "A column to leave out (repeatable).") var ignore: [String] = []
  @Option(help: "A cell text that means missing, besides empty, NA, NaN, null and ? (repeatable).") var missing: [String] = []
  @Option(help: "Cross-validate with this many folds.") var folds: Int?
  @Option(help: "Hold out this share of the rows (by --split-column when given) to validate and stop early.")
  var holdout: Double?
  @Option(help: "Boosting rounds (num_iterations).") var rounds = 100
  @Option(help: "Learning rate.") var learningRate = 0.1
  @Option(help: "Leaves per tree (num_leaves).") var leaves = 31
  @Option(help: "Deepest leaf (max_depth); none by default.") var maxDepth: Int?
  @Option(help: "Rows per leaf at least (min_data_in_leaf).") var minRowsPerLeaf = 20
  @Option(help: "Hessian per leaf at least (min_sum_hessian_in_leaf).") var minHessianPerLeaf = 1e-3
  @Option(help: "Gain per split at least (min_gain_to_split).") var minGain = 0.0
  @Option(help: "L1 regularisation (lambda_l1).") var l1 = 0.0
  @Option(help: "L2 regularisation (lambda_l2).") var l2 = 0.0
  @Option(help: "Share of features per tree (feature_fraction).") var featureFraction = 1.0
  @Option(help: "Share of rows per bagging draw (bagging_fraction).") var rowFraction = 1.0
  @Option(help: "Draw rows every this many rounds (bagging_freq).") var rowFractionEvery = 0
  @Option(help: "Bins per numeric feature at most (max_bin).") var maxBins = 255
  @Option(help: "Stop after this many rounds without validation improvement (needs --holdout).") var earlyStopping: Int?
  @Option(help: "Weight of positive rows (scale_pos_weight), for class imbalance.") var positiveWeight = 1.0
  @Option(help: "Seed of the folds and draws.") var seed: UInt64 = 1
  @Option(help: "Threads that build histograms (default: every core).") var threads: Int?
  @Option(help: "Write the fold and hold-out metrics as JSON to this file.") var metricsJson: String?

  func run() throws {
    if !fromLog.isEmpty {
      guard csv == nil else { throw ValidationError("give --csv or --from-log, not both") }
      guard let duration = DurationText.parse(window), duration > .zero else {
        throw ValidationError("--window '\(window)' is not a duration such as 14d or 36h")
      }
      try RetrainFromLog(
        logs: fromLog, bundle: bundle, window: duration, weighByProbability: weightByProbability,
        skipUnknownOutcomes: skipUnknownOutcomes, out: out ?? bundle, version: version,
        minimumExamples: minExamples
      ).run()
      return
    }
    if let csv {
      guard let target else { throw ValidationError("--csv needs --target, the column to predict") }
      guard folds == nil || holdout == nil else { throw ValidationError("give --folds or --holdout, not both") }
      if earlyStopping != nil && holdout == nil { throw ValidationError("--early-stopping needs --holdout") }
      guard let chosen = TableModel.Learner(rawValue: learner) else {
        throw ValidationError("--learner must be trees or logistic, not '\(learner)'")
      }
      if let calibrate {
        guard calibrate == "platt" || calibrate == "isotonic" else {
          throw ValidationError("--calibrate must be platt or isotonic, not '\(calibrate)'")
        }
        guard folds != nil || holdout != nil else {
          throw ValidationError("--calibrate needs --folds or --holdout: it is fitted on scores of rows the model did not see")
        }
      }
      var parameters = BoostingParameters()
      parameters.rounds = rounds
      parameters.learningRate = learningRate
      parameters.leaves = leaves
      parameters.maxDepth = maxDepth
      parameters.minimumRowsPerLeaf = minRowsPerLeaf
      parameters.minimumHessianPerLeaf = minHessianPerLeaf
      parameters.minimumGain = minGain
      parameters.l1 = l1
      parameters.l2 = l2
      parameters.featureFraction = featureFraction
      parameters.rowFraction = rowFraction
      parameters.rowFractionEvery = rowFractionEvery
      parameters.maxBins = maxBins
      parameters.earlyStoppingRounds = earlyStopping
      parameters.positiveWeight = positiveWeight
      parameters.seed = seed
      parameters.threads = threads
      if let problem = parameters.problem { throw ValidationError(problem) }
      try TrainTable(
        csv: csv, target: target, positive: positive, id: id, splitColumn: splitColumn, schemaPath: schema,
        ignored: ignore, missing: missing, folds: folds, holdout: holdout, out: out ?? "trained",
        parameters: parameters, metricsJSON: metricsJson, learner: chosen, logisticL2: logisticL2, calibrate: calibrate
      ).run()
      return
    }
    try trainDemoBank(out: out ?? "models/demo")
  }

  func trainDemoBank(out: String) throws {
    let dataset = try failing { try DemoDataset.read(from: data) }
    print("training on \(dataset.history.count) history rows, \(dataset.customers.count) customers")
    print("offer                         rows  accepted  terms  train AUC  hold-out AUC")
    let bundle = try failing {
      try dataset.trainBundle(name: name, version: version) { report in
        let m = report.metrics
        let id = report.offerId.padding(toLength: 28, withPad: " ", startingAt: 0)
        let columns = String(
          format: "%6d  %8d  %5d  %9.3f  %12.3f", m.trainRows + m.holdoutRows, m.trainPositives + m.holdoutPositives,
          report.terms, m.trainAUC, m.holdoutAUC)
        print("\(id) \(columns)")
      }
    }
    let directory = try bundle.write(toRoot: out)
    let aucs = bundle.models.models.map(\.metrics.holdoutAUC)
    print("mean hold-out AUC \(String(format: "%.3f", aucs.reduce(0, +) / Double(aucs.count)))")
    print("bundle \(name)/\(version) written to \(directory) (schema \(bundle.manifest.schemaHash.prefix(12)))")
  }
}

struct Import: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Bulk-load customers from CSV into a feature store directory, then snapshot it.",
    discussion: """
      The CSV has a header row with customer_id, optionally display_name, and a column per feature of the \
      bundle's schema (any order; empty cells are missing). Values are as of the export (days since, flags, \
      trends) and are stored as of --as-of. Rejected rows are counted and reported with line and column; \
      the command then exits with status 3. Stop the server using the store first (the store is locked).
      """)

  @Option(help: "CSV file.") var csv: String
  @Option(help: "Feature store directory.") var store = "arbiter-data/store"
  @Option(help: "Bundle whose schema the store uses.") var bundle = "models/demo"
  @Option(help: "Moment the exported values describe, in days since 1970 ('now' by default).") var asOf = "now"

  func run() throws {
    let loaded = try failing { try ModelBundle.load(from: bundle) }
    let asOfDays: Double
    if asOf == "now" {
      asOfDays = FeatureStore.nowDays
    } else {
      guard let days = Double(asOf) else {
        throw ValidationError("--as-of must be 'now' or a number of days since 1970")
      }
      asOfDays = days
    }
    let target = try failing { try FeatureStore.open(directory: store, schema: loaded.schema, policy: .always) }
    defer { target.close() }
    let report = try failing { try CSVImporter.importFile(path: csv, into: target, asOfDays: asOfDays, logged: false) }
    print("imported \(report)")
    for error in report.errors { print("  rejected: \(error)") }
    if report.rejected > report.errors.count {
      print("  … and \(report.rejected - report.errors.count) more rejected rows")
    }
    let snapshot = try failing { try target.writeSnapshot() }
    print(
      "snapshot \(snapshot.path): \(snapshot.rows) customers, \(snapshot.bytes / 1_048_576) MiB "
        + "in \(String(format: "%.1f", snapshot.seconds)) s"
    )
    if report.rejected > 0 { throw ExitCode(3) }
  }
}
