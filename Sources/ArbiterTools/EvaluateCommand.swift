import ArbiterCore
import ArbiterDecisioning
import ArbiterLearning
import ArbiterModels
import ArgumentParser
import Foundation

/// `arbiter-tools evaluate`: a model scored on labelled rows, as an HTML report with charts and
/// the same metrics as JSON.
struct Evaluate: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Evaluate a model on a labelled CSV: an HTML report with charts, and the metrics as JSON.",
    discussion: """
      The model is a LightGBM text model (.txt, Arbiter's own trainer writes these) or an XGBoost JSON model (.json), \\
      read against --schema (by default schema.json beside the model). The CSV has a column per feature of the \\
      schema and the target; a value not of its feature's kind, or a category the schema does not list, is refused \\
      naming its line and column. Writes <out>/report.html (self-contained: open it in any browser) and \\
      <out>/metrics.json.
      """)

  @Option(help: "The model file (.txt LightGBM text, .json XGBoost or Arbiter's logistic model).") var model: String?
  @Option(help: "The feature schema (default: schema.json beside the model).") var schema: String?
  @Option(help: "The labelled CSV (with --model).") var csv: String?
  @Option(help: "The binary target column (with --model).") var target: String?
  @Option(help: "A bundle to evaluate offer by offer, on what a server logged (with --from-log).") var bundle: String?
  @Option(
    name: .customLong("from-log"),
    help: "An interaction log whose decisions and outcomes the bundle's models are evaluated on (repeatable).")
  var fromLog: [String] = []
  @Option(help: "How long after a decision an accept or convert counts (--from-log).") var window = "14d"
  @Option(help: "The target's positive value (default: 1, yes, true, y or t).") var positive: String?
  @Option(help: "A cell text that means missing, besides empty, NA, NaN, null and ? (repeatable).") var missing: [String] = []
  @Option(help: "Rows explained by TreeSHAP for the importance chart (the first ones).") var explainRows = 5_000
  @Option(help: "A calibration (default: calibration.json beside the model, when there is one).") var calibration: String?
  @Option(help: "Output directory.") var out = "report"

  func run() throws {
    if let bundle {
      guard !fromLog.isEmpty, model == nil, csv == nil else {
        throw ValidationError("--bundle is evaluated on --from-log logs (not with --model or --csv)")
      }
      try evaluateBundle(bundle)
      return
    }
    guard let model, let csv, let target else { throw ValidationError("give --model, --csv and --target, or --bundle and --from-log") }
    let schemaPath = schema ?? (URL(fileURLWithPath: model).deletingLastPathComponent().path + "/schema.json")
    let featureSchema = try failing { try TrainTable.readSchema(schemaPath) }
    guard let data = FileManager.default.contents(atPath: model) else {
      throw ValidationError("\(model): cannot be read")
    }
    let file = (model as NSString).lastPathComponent
    var gains: [String: (gain: Double, splits: Int)] = [:]
    var description: String
    let scorer: PropensityModel.Scorer
    let names = featureSchema.customerFeatures.map(\.name)
    let decoder = JSONDecoder()
    decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    if model.hasSuffix(".json"), let logistic = try? decoder.decode(LogisticModelDocument.self, from: data) {
      scorer = .logistic(try failing { try CompiledLogisticModel(logistic, schema: featureSchema) })
      description = "logistic regression, \(logistic.terms.count) terms"
    } else if model.hasSuffix(".json") {
      let ensemble = try failing { try XGBoostImporter.load(data, schema: featureSchema, file: file) }
      scorer = .trees(ensemble, featureNames: names)
      description = "XGBoost JSON model, \(ensemble.treeCount) trees"
    } else {
      let text = String(decoding: data, as: UTF8.self)
      let ensemble = try failing { try LightGBMImporter.load(text, schema: featureSchema, file: file) }
      gains = TreeModelGains.lightGBM(text)
      scorer = .trees(ensemble, featureNames: names)
      description = "LightGBM text model, \(ensemble.treeCount) trees, \(ensemble.nodeCount) splits"
    }
    let calibrationPath =
      calibration ?? (URL(fileURLWithPath: model).deletingLastPathComponent().path + "/calibration.json")
    var fitted: Calibration?
    if let calibrationData = FileManager.default.contents(atPath: calibrationPath) {
      do { fitted = try JSONDecoder().decode(Calibration.self, from: calibrationData) } catch {
        throw ValidationError("\(calibrationPath): not a calibration (\(error))")
      }
      try failing { try fitted!.validate(calibrationPath) }
      description += fitted.map { if case .platt = $0 { ", Platt-calibrated" } else { ", isotonic-calibrated" } } ?? ""
    } else if calibration != nil {
      throw ValidationError("\(calibrationPath): cannot be read")
    }
    let propensity = PropensityModel(scorer, calibration: fitted)
    var options = TableReader.Options(target: target)
    options.positive = positive
    options.schema = featureSchema
    options.missingValues.formUnion(missing)
    let read = try failing { try TableReader.read(path: csv, options: options) }
    let table = read.0
    let evaluation = ModelEvaluation(
      model: propensity, rows: table.rowCount, customerWidth: names.count, contextWidth: 0, labels: table.labels,
      gains: gains, explainRows: explainRows
    ) { r, customer, _ in
      for f in 0..<names.count { customer[f] = table.columns[f][r] }
    }
    let report = EvaluationReport(
      data: "\((csv as NSString).lastPathComponent) (\(table.rowCount) rows, \(table.positiveCount) positive)",
      sections: [.init(title: file, model: description, evaluation: evaluation)])
    try write(report, evaluations: [file: evaluation])
  }

  func write(_ report: EvaluationReport, evaluations: [String: ModelEvaluation]) throws {
    try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
    try report.html().write(toFile: out + "/report.html", atomically: true, encoding: .utf8)
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    try encoder.encode(evaluations.count == 1 ? AnyEncodable(evaluations.first!.value) : AnyEncodable(evaluations))
      .write(to: URL(fileURLWithPath: out + "/metrics.json"))
    for (name, evaluation) in evaluations.sorted(by: { $0.key < $1.key }) {
      print(
        "\(name) on \(evaluation.rows) rows: AUC \(String(format: "%.4f", evaluation.auc)), "
          + "log-loss \(String(format: "%.4f", evaluation.logLoss)), Brier \(String(format: "%.4f", evaluation.brierScore)), "
          + "average precision \(String(format: "%.4f", evaluation.averagePrecision))")
    }
    print("wrote \(out)/report.html and \(out)/metrics.json")
  }

  /// A section per offer: the bundle's model of the offer scored on the features its decisions
  /// logged, against the outcomes recorded for them.
  func evaluateBundle(_ path: String) throws {
    let loaded = try failing { try ModelBundle.load(from: path) }
    guard let duration = DurationText.parse(window), duration > .zero else {
      throw ValidationError("--window '\(window)' is not a duration such as 14d or 36h")
    }
    let (examples, _) = try failing {
      try LoggedExamples.read(
        paths: fromLog, customerWidth: loaded.schema.width, contextWidth: loaded.schema.contextFeatures.count,
        window: duration, weighByProbability: false)
    }
    var sections: [EvaluationReport.Section] = []
    var evaluations: [String: ModelEvaluation] = [:]
    let names = loaded.schema.customerFeatures.map(\.name)
    for offer in loaded.catalogue.offers {
      guard let set = examples.sets[offer.id], set.labels.contains(true), set.labels.contains(false) else { continue }
      let scorer: PropensityModel.Scorer
      let description: String
      if let ensemble = loaded.trees[offer.id] {
        scorer = .trees(ensemble, featureNames: names)
        description = "tree model, \(ensemble.treeCount) trees"
      } else if let document = loaded.models.models.first(where: { $0.offerId == offer.id }) {
        scorer = .logistic(try failing { try CompiledLogisticModel(document, schema: loaded.schema) })
        description = "logistic regression, \(document.terms.count) terms"
      } else {
        continue
      }
      let propensity = PropensityModel(scorer, calibration: loaded.models.calibrations[offer.id])
      let evaluation = ModelEvaluation(
        model: propensity, rows: set.count, customerWidth: set.customerWidth, contextWidth: set.contextWidth,
        labels: set.labels, explainRows: explainRows
      ) { r, customer, context in
        for f in 0..<set.customerWidth { customer[f] = set.customerValues[r * set.customerWidth + f] }
        for f in 0..<set.contextWidth { context[f] = set.contextValues[r * set.contextWidth + f] }
      }
      evaluations[offer.id] = evaluation
      sections.append(.init(title: offer.id, model: description + " (\(offer.name))", evaluation: evaluation))
    }
    guard !sections.isEmpty else { throw ValidationError("no offer of the bundle has logged outcomes of both kinds") }
    let logs = fromLog.map { ($0 as NSString).lastPathComponent }.joined(separator: ", ")
    let report = EvaluationReport(
      data: "\(logs): \(examples.counts.offersShown) offers made in \(examples.counts.decisions) decisions, "
        + "bundle \(loaded.manifest.name)/\(loaded.manifest.version)",
      sections: sections)
    try write(report, evaluations: evaluations)
  }
}

/// Any encodable value, for one metrics.json of either shape.
struct AnyEncodable: Encodable {
  let value: any Encodable
  init(_ value: any Encodable) { self.value = value }
  func encode(to encoder: any Encoder) throws { try value.encode(to: encoder) }
}
