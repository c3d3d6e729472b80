import ArbiterCore
import ArbiterDecisioning
import ArbiterModels
import Foundation
import Testing

/// Arbitration on uplift: an offer is worth (p(response | offered) − p(response | not offered)) ×
/// value, from its model and its control model.
@Suite struct UpliftArbitrationTests {
  /// The demo bundle with a control model per offer: for `persuadable`, a model that says almost
  /// no one responds unasked; for every other offer, its own model (no one is moved by it).
  static func bundle(persuadable: String, objective: ArbitrationPolicy.Objective) throws -> ModelBundle {
    var bundle = try ModelBundle.load(from: TestSupport.demoBundlePath)
    bundle.catalogue.arbitration.objective = objective
    for model in bundle.models.models {
      var control = model
      control.offerId = model.offerId + "/control"
      if model.offerId == persuadable {
        control.intercept = -30
        for k in control.terms.indices { control.terms[k].weight = 0 }
      }
      bundle.models.models.append(control)
    }
    return bundle
  }

  @Test func onUpliftOnlyTheOfferThatChangesWhatCustomersDoIsMade() throws {
    let server = try TestSupport.makeServer(customers: 3_000)
    let store = server.store
    let persuadable = "personal-loan"
    let response = try DecisionEngine(
      bundle: Self.bundle(persuadable: persuadable, objective: .response), customers: store,
      clock: { TestSupport.fixedClockDays })
    let uplift = try DecisionEngine(
      bundle: Self.bundle(persuadable: persuadable, objective: .uplift), customers: store,
      clock: { TestSupport.fixedClockDays })
    var madeOnResponse = Set<String>(), madeOnUplift = Set<String>()
    var upliftDecisions = 0
    for id in store.customerIds().prefix(600) {
      let request = DecisionRequest(customerId: id, channel: .web, maxOffers: 3)
      madeOnResponse.formUnion(try response.decide(request, decisionId: "r\(id)").offers.map(\.offerId))
      let decided = try uplift.decide(request, decisionId: "u\(id)")
      for offer in decided.offers {
        madeOnUplift.insert(offer.offerId)
        let control = try #require(offer.controlPropensity)
        #expect(
          abs(
            offer.score - (offer.propensity - control) * offer.value * offer.contextWeight * offer.lever
              + offer.channelCost + offer.shadowPrice) < 1e-9)
      }
      upliftDecisions += decided.offers.isEmpty ? 0 : 1
    }
    #expect(madeOnResponse.count > 3, "\(madeOnResponse)")
    #expect(madeOnUplift == [persuadable] && upliftDecisions > 50, "\(madeOnUplift), \(upliftDecisions)")
  }

  @Test func upliftWithoutAControlModelIsRefusedNamingTheOffer() throws {
    var bundle = try ModelBundle.load(from: TestSupport.demoBundlePath)
    bundle.catalogue.arbitration.objective = .uplift
    let store = try TestSupport.makeServer(customers: 100).store
    do {
      _ = try DecisionEngine(bundle: bundle, customers: store)
      Issue.record("a bundle without control models was compiled for uplift")
    } catch {
      #expect(error.message.contains("arbitration on uplift needs its control model"), "\(error.message)")
      #expect(error.message.contains("/control'"), "\(error.message)")
    }
    // A control model for an offer the catalogue lacks is an orphan.
    var orphan = try ModelBundle.load(from: TestSupport.demoBundlePath)
    var stray = orphan.models.models[0]
    stray.offerId = "no-such-offer/control"
    orphan.models.models.append(stray)
    #expect(throws: ArbiterError.self) { _ = try DecisionEngine(bundle: orphan, customers: store) }
  }

  @Test func theLogCarriesTheControlPropensity() throws {
    let decision = try DecisionEngine(
      bundle: Self.bundle(persuadable: "personal-loan", objective: .uplift),
      customers: try TestSupport.makeServer(customers: 2_000).store, clock: { TestSupport.fixedClockDays })
    let path = try TestSupport.temporaryDirectory() + "/log.jsonl"
    let log = try InteractionLog(path: path)
    for id in decision.customers.customerIds().prefix(300) {
      let made = try decision.decide(DecisionRequest(customerId: id, channel: .web), decisionId: "d\(id)")
      if !made.offers.isEmpty { log.record(made) }
    }
    log.flush()
    let text = try String(contentsOfFile: path, encoding: .utf8)
    #expect(text.contains("\"control_propensity\":"), "\(text.prefix(500))")
    // Every line is JSON of the log's shape.
    for line in text.split(separator: "\n") {
      #expect((try? JSONSerialization.jsonObject(with: Data(line.utf8))) != nil, "\(line)")
    }
  }
}

extension UpliftArbitrationTests {
  /// `arbiter-tools bundle` packs `<offer>.control.txt` / `.json` as the offer's control model: a
  /// tree (as train-uplift writes) and logistic ones, for a catalogue arbitrating on uplift.
  @Test func controlModelsArePackedFromTheirFiles() throws {
    let (directory, demo, treeOffer) = try BundlePackerTests.modelDirectory()
    let encoder = JSONEncoder()
    for model in demo.models.models {
      try encoder.encode(model).write(to: URL(fileURLWithPath: "\(directory)/\(model.offerId).control.json"))
    }
    try FileManager.default.removeItem(atPath: "\(directory)/\(treeOffer).control.json")
    try BundlePackerTests.treeModel(features: ["age", "income"], seed: 4).write(
      toFile: "\(directory)/\(treeOffer).control.txt", atomically: true, encoding: .utf8)
    var catalogue = demo.catalogue
    catalogue.arbitration.objective = .uplift
    let root = try TestSupport.temporaryDirectory()
    let packer = BundlePacker(
      name: "uplift", version: "1", schema: demo.schema, catalogue: catalogue,
      files: try BundlePacker.files(inDirectory: directory))
    let written = try packer.pack(into: root)
    let loaded = try ModelBundle.load(from: written)
    #expect(loaded.trees[treeOffer + "/control"] != nil && loaded.trees[treeOffer] != nil)
    #expect(FileManager.default.fileExists(atPath: "\(written)/\(treeOffer).control.txt"))
    #expect(loaded.models.models.filter { $0.offerId.hasSuffix("/control") }.count == demo.models.models.count - 1)
    // Without the control files, the uplift catalogue cannot be packed.
    for name in try FileManager.default.contentsOfDirectory(atPath: directory) where name.contains(".control.") {
      try FileManager.default.removeItem(atPath: "\(directory)/\(name)")
    }
    let bare = BundlePacker(
      name: "uplift", version: "2", schema: demo.schema, catalogue: catalogue,
      files: try BundlePacker.files(inDirectory: directory))
    #expect(BundlePackerTests.refusal(bare, root: root).contains("arbitration on uplift needs its control model"))
  }
}
