import ArbiterCore
import ArbiterDecisioning
import ArbiterLearning
import ArbiterModels
import Foundation
import Testing

/// `arbiter-tools bundle`: models of any kind packed for a catalogue, validated as a reload is,
/// and picked up by a running server's bundle watch; every bad input named.
@Suite struct BundlePackerTests {
  /// A small tree model over demo-bank features (or others), as `train --csv` writes it.
  static func treeModel(features: [String], seed: UInt64) throws -> String {
    var random = SeededGenerator(seed: seed)
    var columns = [[Float]](repeating: [], count: features.count)
    var labels: [Bool] = []
    for _ in 0..<2_000 {
      let values = features.map { _ in Float(random.uniform() * 100) }
      for (f, value) in values.enumerated() { columns[f].append(value) }
      labels.append(random.chance(values[0] > 50 ? 0.3 : 0.05))
    }
    let schema = FeatureSchema(
      customerFeatures: features.map { FeatureDefinition(name: $0, kind: .numeric, description: "") }, contextFeatures: [])
    var parameters = BoostingParameters()
    parameters.rounds = 10
    parameters.leaves = 7
    let table = LabelledTable(schema: schema, columns: columns, labels: labels, lines: Array(0..<labels.count))
    return try GradientBoostedTrainer(parameters: parameters).train(table).lightGBMText()
  }

  /// A directory with the demo bundle's logistic models as `<offer>.json`, and a tree model with a
  /// calibration for the first offer instead.
  static func modelDirectory() throws -> (directory: String, demo: ModelBundle, treeOffer: String) {
    let demo = try ModelBundle.load(from: TestSupport.demoBundlePath)
    let directory = try TestSupport.temporaryDirectory()
    let treeOffer = demo.catalogue.offers[0].id
    let encoder = JSONEncoder()
    for model in demo.models.models where model.offerId != treeOffer {
      try encoder.encode(model).write(to: URL(fileURLWithPath: "\(directory)/\(model.offerId).json"))
    }
    try treeModel(features: ["age", "income"], seed: 3).write(
      toFile: "\(directory)/\(treeOffer).txt", atomically: true, encoding: .utf8)
    try encoder.encode(Calibration.platt(a: 0.9, b: -0.1)).write(
      to: URL(fileURLWithPath: "\(directory)/\(treeOffer).calibration.json"))
    return (directory, demo, treeOffer)
  }

  @Test func modelsOfEveryKindArePackedValidatedAndHotSwappedIntoARunningServer() throws {
    let (directory, demo, treeOffer) = try Self.modelDirectory()
    let (root, _) = try TestSupport.copyOfDemoBundle()
    let server = try TestSupport.makeServer(bundlePath: root)
    var watch = server.live.startBundleWatch()
    let packer = BundlePacker(
      name: "demo", version: "2", schema: demo.schema, catalogue: demo.catalogue,
      files: try BundlePacker.files(inDirectory: directory))
    let written = try packer.pack(into: root)
    #expect(written == root + "/2")
    #expect(!(try FileManager.default.contentsOfDirectory(atPath: root)).contains { $0.hasPrefix(".staging") })
    #expect(server.live.checkForNewBundle(&watch) == .published(version: "2"))
    let live = server.live.snapshot
    #expect(live.engine.versions.bundleVersion == "2")
    #expect(live.bundle.trees[treeOffer] != nil)
    #expect(live.bundle.models.calibrations[treeOffer] == .platt(a: 0.9, b: -0.1))
    #expect(live.bundle.models.models.count == demo.models.models.count - 1)
    #expect(live.bundle.manifest.createdBy == "arbiter-tools bundle")
    // Decisions are made with it.
    let customer = server.store.customerIds().first!
    _ = try server.live.decide(DecisionRequest(customerId: customer, channel: .web, maxOffers: 3))
  }

  static func refusal(_ packer: BundlePacker, root: String) -> String {
    do {
      _ = try packer.pack(into: root)
      return "packed"
    } catch { return error.message }
  }

  @Test func aMissingOfferAnUnknownOneABadModelOrAnExistingVersionIsRefusedNamingIt() throws {
    let (directory, demo, treeOffer) = try Self.modelDirectory()
    let root = try TestSupport.temporaryDirectory()
    var files = try BundlePacker.files(inDirectory: directory)
    func packer(_ files: [BundlePacker.ModelFile], version: String = "1") -> BundlePacker {
      BundlePacker(name: "t", version: version, schema: demo.schema, catalogue: demo.catalogue, files: files)
    }
    let last = demo.catalogue.offers.last!.id
    #expect(
      Self.refusal(packer(files.filter { $0.offerId != last }), root: root)
        == "offer '\(last)' has no model (give <offer>.txt or <offer>.json)")
    let stray = BundlePacker.ModelFile(offerId: "no-such-offer", path: directory + "/\(treeOffer).txt")
    #expect(
      Self.refusal(packer(files + [stray]), root: root)
        .hasPrefix("\(directory)/\(treeOffer).txt: model for offer 'no-such-offer', which the catalogue does not have"))
    let odd = directory + "/odd.txt"
    try Self.treeModel(features: ["age", "shoe_size"], seed: 4).write(toFile: odd, atomically: true, encoding: .utf8)
    let withOdd = files.filter { $0.offerId != treeOffer } + [.init(offerId: treeOffer, path: odd)]
    let message = Self.refusal(packer(withOdd), root: root)
    #expect(message.contains(odd) && message.contains("shoe_size"), "\(message)")
    var unvalidated = demo.models.models[1]
    unvalidated.metrics.holdoutAUC = .nan
    let encoder = JSONEncoder()
    encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    try encoder.encode(unvalidated).write(to: URL(fileURLWithPath: "\(directory)/\(unvalidated.offerId).json"))
    #expect(
      Self.refusal(packer(files), root: root)
        == "\(directory)/\(unvalidated.offerId).json: the logistic model has no hold-out metrics; train it with --folds or --holdout")
    try encoder.encode(demo.models.models[1]).write(to: URL(fileURLWithPath: "\(directory)/\(unvalidated.offerId).json"))
    files = try BundlePacker.files(inDirectory: directory).filter { $0.offerId != "odd" }
    #expect(Self.refusal(packer(files), root: root) == "packed")
    #expect(Self.refusal(packer(files), root: root) == "\(root)/1 exists; bundles are immutable, give a new --version")
  }
}
