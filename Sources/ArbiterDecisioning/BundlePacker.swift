import ArbiterCore
import ArbiterFeatureStore
import ArbiterModels
import Foundation

/// Packs model files into a versioned bundle and validates it as the server validates a reload
/// (``ModelBundle/load(from:)``: checksums, schema, every model read against it; then a
/// ``DecisionEngine`` compiled over probe customers and ``DecisionEngine/probe(customers:)``),
/// before the version directory appears: dropped under a watched model root, it hot-swaps.
///
/// In stages: ``assign(_:)`` maps each catalogue offer to its model (none missing, none left
/// over), ``models(from:)`` reads each into the models document, then ``pack(into:)`` writes to a
/// staging directory, validates there and renames it into place.
public struct BundlePacker: Sendable {
  /// One model file for an offer.
  public struct ModelFile: Sendable {
    /// The offer it scores.
    public var offerId: String
    /// `.txt`: LightGBM text; `.json`: XGBoost JSON or Arbiter's logistic model.
    public var path: String
    /// A calibration (`Calibration` JSON) for it, when it has one.
    public var calibrationPath: String?

    /// A model file for an offer.
    public init(offerId: String, path: String, calibrationPath: String? = nil) {
      self.offerId = offerId
      self.path = path
      self.calibrationPath = calibrationPath
    }
  }

  public var name: String
  public var version: String
  public var schema: FeatureSchema
  public var catalogue: CatalogueDocument
  public var files: [ModelFile]
  /// A customers CSV (as `arbiter-tools import` reads) whose customers the probe scores; nil
  /// probes edge customers made from the schema (all missing, all zero, each category level,
  /// each declared minimum and maximum).
  public var probeCSV: String?
  /// How the bundle's population can be rebuilt (a retrained demo bundle keeps its generator).
  public var population: PopulationSpec?
  /// Files of tree models kept from another bundle (a retrained bundle keeps the tree models it does not retrain).
  public var keptFiles: [String: Data] = [:]

  /// A packer of `files` for the catalogue's offers.
  public init(
    name: String, version: String, schema: FeatureSchema, catalogue: CatalogueDocument, files: [ModelFile],
    probeCSV: String? = nil
  ) {
    self.name = name
    self.version = version
    self.schema = schema
    self.catalogue = catalogue
    self.files = files
    self.probeCSV = probeCSV
  }

  /// The model files of a directory: `<offer>.txt` or `<offer>.json`, with `<offer>.calibration.json` beside it.
  public static func files(inDirectory directory: String) throws(ArbiterError) -> [ModelFile] {
    let names: [String]
    do { names = try FileManager.default.contentsOfDirectory(atPath: directory).sorted() } catch {
      throw ArbiterError(.notFound, "\(directory): cannot be listed (\(error.localizedDescription))")
    }
    return names.filter { ($0.hasSuffix(".txt") || $0.hasSuffix(".json")) && !$0.hasSuffix(".calibration.json") }
      .map { file in
        let offer = (file as NSString).deletingPathExtension
        let calibration = directory + "/" + offer + ".calibration.json"
        // <offer>.control.txt is the offer's control model (for arbitration on uplift).
        let id = offer.hasSuffix(".control") ? String(offer.dropLast(".control".count)) + controlSuffix : offer
        return ModelFile(
          offerId: id, path: directory + "/" + file,
          calibrationPath: FileManager.default.fileExists(atPath: calibration) ? calibration : nil)
      }
  }

  /// Writes the bundle to `root/<version>` once it validates; returns the directory. Refuses,
  /// naming it, an offer without a model, a model for no offer, a model that does not read
  /// against the schema or does not score the probe as a probability, and an existing version.
  public func pack(into root: String) throws(ArbiterError) -> String {
    try schema.validate()
    let assigned = try assign(files)
    let (models, extraFiles) = try self.models(from: assigned)
    return try pack(models, extraFiles: extraFiles, into: root)
  }

  /// Writes a models document (and the tree files it names) as the bundle, validated as a
  /// reload is; see ``pack(into:)``.
  public func pack(_ models: ModelsDocument, extraFiles: [String: Data], into root: String) throws(ArbiterError)
    -> String
  {
    let target = (root as NSString).appendingPathComponent(version)
    guard !FileManager.default.fileExists(atPath: target) else {
      throw ArbiterError(.alreadyExists, "\(target) exists; bundles are immutable, give a new --version")
    }
    let bundle: ModelBundle
    do {
      bundle = try ModelBundle(
        name: name, version: version, createdBy: "arbiter-tools bundle", schema: schema, catalogue: catalogue,
        models: models, population: population, extraFiles: keptFiles.merging(extraFiles) { $1 })
    } catch {
      throw ArbiterError(.invalidArgument, "the bundle cannot be encoded: \(error)")
    }
    let staging = (root as NSString).appendingPathComponent(".staging-\(version)-\(UInt32.random(in: 0...UInt32.max))")
    defer { try? FileManager.default.removeItem(atPath: staging) }
    do {
      try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: true)
      _ = try bundle.write(toRoot: staging)
    } catch {
      throw ArbiterError(.failedPrecondition, "cannot write the bundle under \(root): \(error.localizedDescription)")
    }
    let written = (staging as NSString).appendingPathComponent(version)
    // As a reload does: load and verify, compile over customers, probe.
    let loaded = try ModelBundle.load(from: written)
    let store = try FeatureStore(schema: loaded.schema, expectedCustomers: 64)
    if let probeCSV {
      let report = try CSVImporter.importFile(path: probeCSV, into: store, asOfDays: FeatureStore.nowDays, logged: false)
      guard report.rejected == 0 else {
        throw ArbiterError(.invalidArgument, "\(probeCSV): probe customers rejected: \(report.errors.prefix(3).map { "\($0)" }.joined(separator: "; "))")
      }
    } else {
      let upserted = try store.upsert(Self.edgeCustomers(of: loaded.schema))
      guard upserted.rejected == 0 else {
        throw ArbiterError(.invalidArgument, "edge customers rejected: \(upserted.errors.joined(separator: "; "))")
      }
    }
    let engine = try DecisionEngine(bundle: loaded, customers: store)
    try engine.probe(customers: max(1, store.customerCount))
    do { try FileManager.default.moveItem(atPath: written, toPath: target) } catch {
      throw ArbiterError(.failedPrecondition, "cannot move the bundle to \(target): \(error.localizedDescription)")
    }
    return target
  }

  /// How a control model's id ends: "<offer>/control" (its file in the bundle: <offer>.control.txt).
  static let controlSuffix = "/control"

  /// Each catalogue offer's model file (and control model file, when given); refuses a missing
  /// offer, an unknown one, or two files for one.
  func assign(_ files: [ModelFile]) throws(ArbiterError) -> [String: ModelFile] {
    let offers = Set(catalogue.offers.map(\.id))
    var byOffer: [String: ModelFile] = [:]
    for file in files {
      let base = file.offerId.hasSuffix(Self.controlSuffix) ? String(file.offerId.dropLast(Self.controlSuffix.count)) : file.offerId
      guard offers.contains(base) else {
        throw ArbiterError(
          .invalidArgument,
          "\(file.path): model for offer '\(file.offerId)', which the catalogue does not have "
            + "(offers: \(catalogue.offers.map(\.id).prefix(8).joined(separator: ", "))\(offers.count > 8 ? ", …" : ""))")
      }
      guard byOffer[file.offerId] == nil else {
        throw ArbiterError(
          .invalidArgument, "offer '\(file.offerId)' has two models: \(byOffer[file.offerId]!.path) and \(file.path)")
      }
      byOffer[file.offerId] = file
    }
    for offer in catalogue.offers where byOffer[offer.id] == nil {
      throw ArbiterError(.invalidArgument, "offer '\(offer.id)' has no model (give <offer>.txt or <offer>.json)")
    }
    return byOffer
  }

  /// The models document and the tree files, each model read against the schema first so that a
  /// bad one is named by its file.
  func models(from assigned: [String: ModelFile]) throws(ArbiterError) -> (ModelsDocument, [String: Data]) {
    var document = ModelsDocument(models: [])
    var extraFiles: [String: Data] = [:]
    let decoder = JSONDecoder()
    decoder.nonConformingFloatDecodingStrategy = .convertFromString(
      positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    let ids = catalogue.offers.flatMap { offer in
      [offer.id] + (assigned[offer.id + Self.controlSuffix] == nil ? [] : [offer.id + Self.controlSuffix])
    }
    for id in ids {
      let file = assigned[id]!
      let stem = id.replacingOccurrences(of: Self.controlSuffix, with: ".control")
      guard let data = FileManager.default.contents(atPath: file.path) else {
        throw ArbiterError(.notFound, "\(file.path): cannot be read")
      }
      if file.path.hasSuffix(".txt") {
        _ = try LightGBMImporter.load(String(decoding: data, as: UTF8.self), schema: schema, file: file.path)
        document.treeModels.append(TreeModelReference(offerId: id, kind: .lightgbm, file: "\(stem).txt"))
        extraFiles["\(stem).txt"] = data
      } else if var logistic = try? decoder.decode(LogisticModelDocument.self, from: data) {
        guard logistic.metrics.holdoutAUC.isFinite, logistic.metrics.holdoutLogLoss.isFinite else {
          throw ArbiterError(
            .invalidArgument,
            "\(file.path): the logistic model has no hold-out metrics; train it with --folds or --holdout")
        }
        logistic.offerId = id
        _ = try CompiledLogisticModel(logistic, schema: schema)
        document.models.append(logistic)
      } else {
        _ = try XGBoostImporter.load(data, schema: schema, file: file.path)
        document.treeModels.append(TreeModelReference(offerId: id, kind: .xgboost, file: "\(stem).json"))
        extraFiles["\(stem).json"] = data
      }
      if let path = file.calibrationPath {
        guard let data = FileManager.default.contents(atPath: path),
          let calibration = try? JSONDecoder().decode(Calibration.self, from: data)
        else { throw ArbiterError(.invalidArgument, "\(path): not a calibration") }
        try calibration.validate(path)
        document.calibrations[id] = calibration
      }
    }
    return (document, extraFiles)
  }

  /// Customers at the schema's edges: all missing, all zero, every categorical at each of its
  /// levels in turn, every bounded feature at its minimum and at its maximum.
  public static func edgeCustomers(of schema: FeatureSchema) -> [CustomerRecord] {
    let features = schema.customerFeatures
    var vectors: [[Float]] = [[Float](repeating: .nan, count: features.count), [Float](repeating: 0, count: features.count)]
    let mostLevels = features.map { if case .categorical(let levels) = $0.kind { levels.count } else { 0 } }.max() ?? 0
    for level in 0..<mostLevels {
      vectors.append(
        features.map { feature in
          switch feature.kind {
          case .categorical(let levels): Float(level % levels.count)
          case .boolean: Float(level % 2)
          case .numeric: Float(feature.minimum ?? 0)
          }
        })
    }
    for pick in [\FeatureDefinition.minimum, \FeatureDefinition.maximum] {
      vectors.append(
        features.map { feature in
          if case .numeric = feature.kind { return Float(feature[keyPath: pick] ?? 1) }
          return 0
        })
    }
    return vectors.enumerated().map { CustomerRecord(id: UInt64($0.offset + 1), displayName: "probe \($0.offset + 1)", values: $0.element) }
  }
}
