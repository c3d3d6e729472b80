import ArbiterCore
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

  @Option(help: "The model file (.txt LightGBM text, .json XGBoost).") var model: String
  @Option(help: "The feature schema (default: schema.json beside the model).") var schema: String?
  @Option(help: "The labelled CSV.") var csv: String
  @Option(help: "The binary target column.") var target: String
  @Option(help: "The target's positive value (default: 1, yes, true, y or t).") var positive: String?
  @Option(help: "A cell text that means missing, besides empty, NA, NaN, null and ? (repeatable).") var missing: [String] = []
  @Option(help: "Rows explained by TreeSHAP for the importance chart (the first ones).") var explainRows = 5_000
  @Option(help: "A calibration (default: calibration.json beside the model, when there is one).") var calibration: String?
  @Option(help: "Output directory.") var out = "report"

  func run() throws {
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
    var row = [Float](repeating: 0, count: names.count)
    var probabilities: [Double] = []
    let slots = propensity.featureNames
    var shap = [Double](repeating: 0, count: slots.count)
    var phi = [Double](repeating: 0, count: slots.count)
    let noContext = [Float]()
    let explained = min(explainRows, table.rowCount)
    for r in 0..<table.rowCount {
      for f in 0..<names.count { row[f] = table.columns[f][r] }
      row.withUnsafeBufferPointer { x in
        noContext.withUnsafeBufferPointer { context in
          probabilities.append(propensity.propensity(customer: x, context: context))
          if r < explained {
            propensity.contributions(customer: x, context: context, into: &phi)
            for f in phi.indices { shap[f] += abs(phi[f]) }
          }
        }
      }
    }
    let importance = slots.enumerated().map { f, name in
      ModelEvaluation.Importance(
        feature: name, gain: gains.isEmpty ? nil : gains[name]?.gain ?? 0,
        splits: gains.isEmpty ? nil : gains[name]?.splits ?? 0,
        meanAbsoluteSHAP: explained > 0 ? shap[f] / Double(explained) : nil)
    }
    let evaluation = ModelEvaluation(
      probabilities: probabilities, labels: table.labels, importance: importance, explainedRows: explained,
      contributionMethod: {
        if case .logistic = scorer { return "exact for a linear model: weight × standardised value" }
        return "exact TreeSHAP"
      }())
    let report = EvaluationReport(
      data: "\((csv as NSString).lastPathComponent) (\(table.rowCount) rows, \(table.positiveCount) positive)",
      sections: [.init(title: file, model: description, evaluation: evaluation)])
    try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
    try report.html().write(toFile: out + "/report.html", atomically: true, encoding: .utf8)
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    try encoder.encode(evaluation).write(to: URL(fileURLWithPath: out + "/metrics.json"))
    print(
      "\(file) on \(table.rowCount) rows: AUC \(String(format: "%.4f", evaluation.auc)), "
        + "log-loss \(String(format: "%.4f", evaluation.logLoss)), Brier \(String(format: "%.4f", evaluation.brierScore)), "
        + "average precision \(String(format: "%.4f", evaluation.averagePrecision))")
    print("wrote \(out)/report.html and \(out)/metrics.json")
  }
}
