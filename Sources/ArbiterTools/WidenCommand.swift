import ArbiterCore
import ArbiterModels
import ArgumentParser
import Foundation

/// A bundle with more offers for load tests: the logistic bundle's offers and their models
/// repeated under new ids until the catalogue has N offers.
struct Widen: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract:
      "Write a copy of a logistic bundle whose catalogue has N offers (the originals repeated under new ids, "
      + "each with its model)."
  )

  @Option(help: "Bundle to widen.") var from = "models/demo"
  @Option(help: "Offers in the new catalogue.") var offers = 50
  @Option(help: "Bundle root to write; the bundle goes to <out>/<version>/.") var out: String
  @Option(help: "Version of the new bundle.") var version = "1"

  func run() throws {
    let source = try failing { try ModelBundle.load(from: from) }
    guard source.trees.isEmpty, !source.catalogue.offers.isEmpty else {
      throw ValidationError("\(from) must be a logistic bundle with offers")
    }
    guard offers >= source.catalogue.offers.count else {
      throw ValidationError("--offers must be at least \(source.catalogue.offers.count)")
    }
    var catalogue = source.catalogue
    var models = source.models
    let originals = source.catalogue.offers
    let byOffer = Dictionary(uniqueKeysWithValues: source.models.models.map { ($0.offerId, $0) })
    var k = 0
    while catalogue.offers.count < offers {
      var offer = originals[k % originals.count]
      let copy = k / originals.count + 2
      var model = byOffer[offer.id]!
      offer.id += "-\(copy)"
      offer.name += " (\(copy))"
      model.offerId = offer.id
      catalogue.offers.append(offer)
      models.models.append(model)
      k += 1
    }
    catalogue.version += "-x\(offers)"
    let bundle = try failing {
      try ModelBundle(
        name: source.manifest.name + "-\(offers)", version: version, createdBy: "arbiter-tools widen from \(from)",
        schema: source.schema,
        catalogue: catalogue, models: models, population: source.manifest.population)
    }
    let directory = try bundle.write(toRoot: out)
    print("bundle \(bundle.manifest.name)/\(version) with \(catalogue.offers.count) offers written to \(directory)")
  }
}
