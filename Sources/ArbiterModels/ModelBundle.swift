import ArbiterCore
import Foundation

/// How the population a bundle was trained for can be rebuilt (the demo bank is generated
/// from a seed rather than shipped as data).
public struct PopulationSpec: Codable, Sendable, Hashable {
  /// The name of the generator that rebuilds the population, e.g. "demo-bank".
  public var generator: String
  /// The generator's seed; the same seed rebuilds the same customers.
  public var seed: UInt64
  /// How many customers the population has.
  public var customers: Int

  /// Creates a population spec from a generator name, a seed and a customer count.
  public init(generator: String, seed: UInt64, customers: Int) {
    self.generator = generator
    self.seed = seed
    self.customers = customers
  }
}

/// `manifest.json`: what a bundle holds and the checksum of every file in it.
public struct BundleManifest: Codable, Sendable, Hashable {
  /// The bundle format version; this server writes and reads only 1.
  public var format: Int
  /// The bundle's name, e.g. "demo" (its directory under `models/`).
  public var name: String
  /// The bundle's version, also the name of its version directory.
  public var version: String
  /// What made the bundle, e.g. "arbiter-tools train".
  public var createdBy: String
  /// SHA-256 of `schema.json`: models are only valid against this exact schema.
  public var schemaHash: String
  /// The version of the bundle's catalogue (``CatalogueDocument/version``).
  public var catalogueVersion: String
  /// How the population the bundle was trained for can be rebuilt; nil when it cannot.
  public var population: PopulationSpec?
  /// File name → SHA-256 (hex) of its bytes.
  public var files: [String: String]
  /// Offer id → hold-out AUC of its model.
  public var holdoutAUC: [String: Double]

  /// Creates a manifest in format 1 from the bundle's names, hashes and model quality.
  public init(
    name: String, version: String, createdBy: String, schemaHash: String, catalogueVersion: String,
    population: PopulationSpec?, files: [String: String], holdoutAUC: [String: Double]
  ) {
    self.format = 1
    self.name = name
    self.version = version
    self.createdBy = createdBy
    self.schemaHash = schemaHash
    self.catalogueVersion = catalogueVersion
    self.population = population
    self.files = files
    self.holdoutAUC = holdoutAUC
  }
}

/// A versioned, checksummed model bundle: feature schema, offer catalogue and one propensity
/// model per offer. Lives in `models/<name>/<version>/`.
public struct ModelBundle: Sendable {
  /// The name of the feature schema's file in a bundle directory.
  public static let schemaFile = "schema.json"
  /// The name of the offer catalogue's file in a bundle directory.
  public static let catalogueFile = "catalogue.json"
  /// The name of the models file in a bundle directory.
  public static let modelsFile = "models.json"
  /// The name of the manifest file in a bundle directory.
  public static let manifestFile = "manifest.json"

  /// What the bundle holds and the checksum of every file.
  public var manifest: BundleManifest
  /// The feature schema the models were trained against.
  public var schema: FeatureSchema
  /// The offer catalogue.
  public var catalogue: CatalogueDocument
  /// The propensity models (logistic inline, tree ensembles by file) and calibrations.
  public var models: ModelsDocument
  /// Tree ensembles by offer id, parsed and checked against the schema at load.
  public var trees: [String: TreeEnsemble] = [:]
  /// Further files of the bundle (tree model files), by name.
  public var extraFiles: [String: Data] = [:]
  /// The version directory it was loaded from, if any.
  public var directory: String?

  /// Assembles a bundle and its manifest (checksums computed from the canonical encodings).
  public init(
    name: String, version: String, createdBy: String, schema: FeatureSchema, catalogue: CatalogueDocument,
    models: ModelsDocument, population: PopulationSpec?, extraFiles: [String: Data] = [:]
  ) throws {
    var files = try Self.encodeFiles(schema: schema, catalogue: catalogue, models: models)
    for (name, data) in extraFiles { files[name] = data }
    let sums = files.mapValues { Checksum.sha256Hex($0) }
    self.manifest = BundleManifest(
      name: name, version: version, createdBy: createdBy, schemaHash: sums[Self.schemaFile]!,
      catalogueVersion: catalogue.version, population: population, files: sums,
      holdoutAUC: Dictionary(uniqueKeysWithValues: models.models.map { ($0.offerId, $0.metrics.holdoutAUC) }))
    self.schema = schema
    self.catalogue = catalogue
    self.models = models
    self.extraFiles = extraFiles
    self.directory = nil
  }

  private static func encodeFiles(
    schema: FeatureSchema, catalogue: CatalogueDocument, models: ModelsDocument
  ) throws -> [String: Data] {
    [
      schemaFile: try CanonicalJSON.encode(schema),
      catalogueFile: try CanonicalJSON.encode(catalogue),
      modelsFile: try CanonicalJSON.encode(models),
    ]
  }

  /// Writes the bundle into `root/<version>/`, replacing that version if present.
  @discardableResult
  public func write(toRoot root: String) throws -> String {
    let directory = (root as NSString).appendingPathComponent(manifest.version)
    let fm = FileManager.default
    try fm.createDirectory(atPath: directory, withIntermediateDirectories: true)
    var files = try Self.encodeFiles(schema: schema, catalogue: catalogue, models: models)
    for (name, data) in extraFiles { files[name] = data }
    files[Self.manifestFile] = try CanonicalJSON.encode(manifest)
    for (name, data) in files {
      try data.write(to: URL(fileURLWithPath: (directory as NSString).appendingPathComponent(name)), options: .atomic)
    }
    return directory
  }

  /// The version directory to load for `path`: `path` itself if it holds a manifest, otherwise
  /// its subdirectory with the highest version (numeric versions compare as numbers).
  public static func resolveVersionDirectory(_ path: String) throws(ArbiterError) -> String {
    let fm = FileManager.default
    var isDirectory: ObjCBool = false
    guard fm.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
      throw ArbiterError(.notFound, "bundle directory '\(path)' does not exist")
    }
    if fm.fileExists(atPath: (path as NSString).appendingPathComponent(manifestFile)) { return path }
    let entries = (try? fm.contentsOfDirectory(atPath: path)) ?? []
    let versions = entries.filter {
      fm.fileExists(
        atPath: ((path as NSString).appendingPathComponent($0) as NSString).appendingPathComponent(manifestFile))
    }
    guard let newest = versions.max(by: versionLess) else {
      throw ArbiterError(.notFound, "'\(path)' holds no bundle version (no '<version>/\(manifestFile)')")
    }
    return (path as NSString).appendingPathComponent(newest)
  }

  static func versionLess(_ a: String, _ b: String) -> Bool {
    let pa = a.split(separator: ".").map { Int($0) }, pb = b.split(separator: ".").map { Int($0) }
    if pa.allSatisfy({ $0 != nil }), pb.allSatisfy({ $0 != nil }) {
      return pa.map { $0! }.lexicographicallyPrecedes(pb.map { $0! })
    }
    return a < b
  }

  /// Loads and verifies a bundle: every file's checksum, the schema hash, and that every model
  /// decodes. Errors name the file and what is wrong with it.
  public static func load(from path: String) throws(ArbiterError) -> ModelBundle {
    let directory = try resolveVersionDirectory(path)
    func read(_ name: String) throws(ArbiterError) -> Data {
      let file = (directory as NSString).appendingPathComponent(name)
      guard let data = FileManager.default.contents(atPath: file) else {
        throw ArbiterError(.notFound, "bundle file '\(file)' is missing or unreadable")
      }
      return data
    }
    let manifestPath = (directory as NSString).appendingPathComponent(manifestFile)
    let manifest = try CanonicalJSON.decode(BundleManifest.self, from: try read(manifestFile), file: manifestPath)
    guard manifest.format == 1 else {
      throw ArbiterError(
        .failedPrecondition, "\(manifestPath): bundle format \(manifest.format) is not supported (this server reads 1)")
    }
    for required in [schemaFile, catalogueFile, modelsFile] where manifest.files[required] == nil {
      throw ArbiterError(.dataCorrupted, "\(manifestPath): no checksum for '\(required)'")
    }
    var contents: [String: Data] = [:]
    for (name, expected) in manifest.files.sorted(by: { $0.key < $1.key }) {
      let data = try read(name)
      let actual = Checksum.sha256Hex(data)
      guard actual == expected else {
        let file = (directory as NSString).appendingPathComponent(name)
        throw ArbiterError(
          .dataCorrupted,
          "\(file): checksum mismatch (manifest says \(expected.prefix(12))…, file is \(actual.prefix(12))…)"
        )
      }
      contents[name] = data
    }
    guard manifest.schemaHash == manifest.files[schemaFile] else {
      throw ArbiterError(.dataCorrupted, "\(manifestPath): schemaHash does not match the checksum of \(schemaFile)")
    }
    let path = { (name: String) in (directory as NSString).appendingPathComponent(name) }
    let schema = try CanonicalJSON.decode(FeatureSchema.self, from: contents[schemaFile]!, file: path(schemaFile))
    try schema.validate()
    let catalogue = try CanonicalJSON.decode(
      CatalogueDocument.self, from: contents[catalogueFile]!, file: path(catalogueFile))
    let models = try CanonicalJSON.decode(ModelsDocument.self, from: contents[modelsFile]!, file: path(modelsFile))
    var bundle = ModelBundle(
      manifest: manifest, schema: schema, catalogue: catalogue, models: models, directory: directory)
    for reference in models.treeModels {
      guard let data = contents[reference.file] else {
        throw ArbiterError(
          .dataCorrupted,
          "\(path(modelsFile)): tree model file '\(reference.file)' of offer '\(reference.offerId)' "
            + "is not checksummed by the manifest"
        )
      }
      guard bundle.trees[reference.offerId] == nil else {
        throw ArbiterError(.invalidArgument, "\(path(modelsFile)): two tree models for offer '\(reference.offerId)'")
      }
      switch reference.kind {
      case .lightgbm:
        bundle.trees[reference.offerId] = try LightGBMImporter.load(
          String(decoding: data, as: UTF8.self), schema: schema, file: path(reference.file))
      case .xgboost:
        bundle.trees[reference.offerId] = try XGBoostImporter.load(data, schema: schema, file: path(reference.file))
      }
      bundle.extraFiles[reference.file] = data
    }
    return bundle
  }

  private init(
    manifest: BundleManifest, schema: FeatureSchema, catalogue: CatalogueDocument, models: ModelsDocument,
    directory: String
  ) {
    self.manifest = manifest
    self.schema = schema
    self.catalogue = catalogue
    self.models = models
    self.directory = directory
  }
}
