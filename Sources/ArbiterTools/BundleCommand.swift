import ArbiterCore
import ArbiterDecisioning
import ArgumentParser
import Foundation

/// `arbiter-tools bundle`: model files packed with a schema and catalogue into a versioned bundle,
/// validated as the server validates a reload.
struct Bundle: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Pack models (Arbiter's, LightGBM text, XGBoost JSON) into a bundle, validated as a reload is.",
    discussion: """
      Every offer of the catalogue needs a model: from --models DIR, <offer>.txt (LightGBM text, as train --csv \\
      writes) or <offer>.json (XGBoost JSON, or Arbiter's logistic model), with <offer>.calibration.json applied \\
      when present; or --model offer=path. The bundle is written to a staging directory, loaded and checked as the \\
      server checks a reload (checksums, the schema, every model read against it, a probe that every model scores \\
      customers as a probability), and only then renamed to <out>/<version>: under a watched model root, the \\
      server hot-swaps to it.
      """)

  @Option(help: "The feature schema (schema.json).") var schema: String
  @Option(help: "The offer catalogue (catalogue.json).") var catalogue: String
  @Option(help: "A directory of <offer>.txt / <offer>.json model files.") var models: String?
  @Option(help: "A model for an offer, offer=path (repeatable).") var model: [String] = []
  @Option(help: "Customers (CSV, as import reads) the probe scores; by default edge customers made from the schema.")
  var probeCsv: String?
  @Option(help: "The bundle root, e.g. models/bank; the bundle goes to <out>/<version>.") var out: String
  @Option(help: "The bundle's version (a new directory; bundles are immutable).") var version: String
  @Option(help: "The bundle's name (default: the last part of --out).") var name: String?

  func run() throws {
    let featureSchema = try failing { try TrainTable.readSchema(schema) }
    guard let catalogueData = FileManager.default.contents(atPath: catalogue) else {
      throw ValidationError("\(catalogue): cannot be read")
    }
    let offers = try failing { try CanonicalJSON.decode(CatalogueDocument.self, from: catalogueData, file: catalogue) }
    var files = try failing { try models.map { try BundlePacker.files(inDirectory: $0) } ?? [] }
    for pair in model {
      let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
      guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
        throw ValidationError("--model '\(pair)' is not offer=path")
      }
      files.append(BundlePacker.ModelFile(offerId: parts[0], path: parts[1]))
    }
    guard !files.isEmpty else { throw ValidationError("give --models DIR or --model offer=path") }
    let packer = BundlePacker(
      name: name ?? (out as NSString).lastPathComponent, version: version, schema: featureSchema, catalogue: offers,
      files: files, probeCSV: probeCsv)
    let directory = try failing { try packer.pack(into: out) }
    print("bundle \(packer.name)/\(version): \(offers.offers.count) offers, validated as a reload; written to \(directory)")
  }
}
