import ArbiterCore
import ArbiterDecisioning
import ArbiterFeatureStore
import ArbiterModels
import Foundation
import Testing

/// A bundle whose offers are scored by LightGBM and XGBoost models, end to end through Decide.
@Suite struct TreeBundleTests {
  let fixtures = TreeModelParityTests.directory

  func makeBundle(calibrations: [String: Calibration] = [:]) throws -> (root: String, bundle: ModelBundle) {
    let schema = try CanonicalJSON.decode(
      FeatureSchema.self, from: Data(contentsOf: URL(fileURLWithPath: fixtures + "/schema.json")), file: "schema.json")
    func offer(_ id: String) -> OfferDefinition {
      OfferDefinition(
        id: id, name: "Term deposit (\(id))", product: "term_deposit", category: "savings", value: 100,
        channels: [.contactCentre],
        heldFeature: nil, minAge: 18, maxAge: nil, conditions: [], contextWeights: [:],
        treatments: [
          "default": TreatmentTemplate(
            title: "Term deposit", message: "A fixed rate for a year.", agentScript: "Would a fixed rate suit you?")
        ])
    }
    // Phrases for every numeric feature, so that tree reasons are said the catalogue's way.
    var phrases: [String: FeaturePhrase] = [:]
    for feature in schema.customerFeatures {
      if case .categorical = feature.kind { continue }
      phrases[feature.name] = FeaturePhrase(high: "high \(feature.name)", low: "low \(feature.name)")
    }
    let catalogue = CatalogueDocument(
      version: "bank-1", currency: "EUR", ageFeature: "age", featurePhrases: phrases,
      offers: [offer("deposit-lgb"), offer("deposit-xgb")])
    let models = ModelsDocument(
      models: [],
      treeModels: [
        TreeModelReference(offerId: "deposit-lgb", kind: .lightgbm, file: "deposit-lgb.txt"),
        TreeModelReference(offerId: "deposit-xgb", kind: .xgboost, file: "deposit-xgb.json"),
      ], calibrations: calibrations)
    let bundle = try ModelBundle(
      name: "bank", version: "1", createdBy: "test", schema: schema, catalogue: catalogue, models: models,
      population: nil,
      extraFiles: [
        "deposit-lgb.txt": try Data(contentsOf: URL(fileURLWithPath: fixtures + "/lightgbm.txt")),
        "deposit-xgb.json": try Data(contentsOf: URL(fileURLWithPath: fixtures + "/xgboost.json")),
      ])
    let root = try TestSupport.temporaryDirectory()
    try bundle.write(toRoot: root)
    return (root, try ModelBundle.load(from: root))
  }

  @Test func decideScoresWithTheTreeModelsExactlyAsTheLibraries() throws {
    let (_, bundle) = try makeBundle()
    #expect(bundle.trees.count == 2)
    let table = try CSVTable(
      text: String(contentsOfFile: fixtures + "/parity.csv", encoding: .utf8), file: "parity.csv")
    let width = bundle.schema.width
    let store = try FeatureStore(schema: bundle.schema)
    let rows = table.rows.prefix(200)
    _ = try store.upsert(
      rows.enumerated().map { i, row in
        CustomerRecord(
          id: UInt64(i + 1), displayName: "Client \(i + 1)",
          values: (0..<width).map { row[$0].isEmpty ? .nan : Float(row[$0])! })
      })
    try TestSupport.consentToEverything(store, ids: (1...rows.count).map(UInt64.init))
    let engine = try DecisionEngine(bundle: bundle, customers: store, clock: { 20_000 })
    var checked = 0, phrased = 0
    for (i, row) in rows.enumerated() where !(Float(row[0]) ?? .nan).isNaN && Float(row[0])! >= 18 {
      let decision = try engine.decide(
        DecisionRequest(customerId: UInt64(i + 1), channel: .contactCentre, maxOffers: 2), decisionId: "t")
      let lgb = try #require(decision.offers.first { $0.offerId == "deposit-lgb" })
      let xgb = try #require(decision.offers.first { $0.offerId == "deposit-xgb" })
      #expect(abs(lgb.propensity - Double(row[width + 1])!) < 1e-15)
      #expect(abs(xgb.propensity - Double(row[width + 3])!) < 1e-6)
      #expect(!lgb.reasons.isEmpty && lgb.reasons.allSatisfy { $0.code.hasPrefix("FEATURE_") })
      // A numeric reason is the catalogue's high or low phrase, by the value against the median.
      for reason in lgb.reasons + xgb.reasons {
        let f = try #require(bundle.schema.customerFeatures.firstIndex { $0.name == reason.feature })
        if case .categorical = bundle.schema.customerFeatures[f].kind { continue }
        let value = row[f].isEmpty ? Float.nan : Float(row[f])!
        if value.isNaN {
          #expect(reason.phrase == "\(reason.feature.replacingOccurrences(of: "_", with: " ")) unknown")
        } else {
          #expect(
            reason.phrase == (value > engine.typicalValues[f] ? "high " : "low ") + reason.feature,
            "\(reason.feature) = \(value)")
          phrased += 1
        }
      }
      checked += 1
    }
    #expect(checked > 150)
    #expect(phrased > 100)
  }

  @Test func aTamperedTreeFileIsRefused() throws {
    let (root, _) = try makeBundle()
    let file = root + "/1/deposit-lgb.txt"
    var text = try String(contentsOfFile: file, encoding: .utf8)
    text = text.replacingOccurrences(of: "shrinkage=0.05", with: "shrinkage=0.5")
    try text.write(toFile: file, atomically: true, encoding: .utf8)
    do {
      _ = try ModelBundle.load(from: root)
      Issue.record("a tampered bundle loaded")
    } catch {
      #expect(error.code == .dataCorrupted)
      #expect(error.message.contains("deposit-lgb.txt: checksum mismatch"))
    }
  }
}

@Suite struct CalibrationTests {
  @Test func plattRecoversKnownParameters() throws {
    var rng = SeededGenerator(seed: 3)
    var logits: [Double] = [], labels: [Bool] = []
    for _ in 0..<50_000 {
      let z = rng.normal() * 2
      logits.append(z)
      labels.append(rng.chance(sigmoid(0.5 * z - 1)))
    }
    guard case .platt(let a, let b) = try Calibration.fitPlatt(logits: logits, labels: labels) else {
      Issue.record("not Platt"); return
    }
    #expect(abs(a - 0.5) < 0.03 && abs(b + 1) < 0.05, "a \(a), b \(b)")
  }

  @Test func isotonicIsPoolAdjacentViolators() throws {
    let calibration = try Calibration.fitIsotonic(
      logits: [6, 2, 3, 1, 5, 4], labels: [true, true, false, false, true, false])
    #expect(calibration == .isotonic(upper: [1, 4, 5, 6], values: [0, 1.0 / 3, 1, 1]))
    #expect(calibration.probability(logit: 0) == 0)
    #expect(calibration.probability(logit: 3.5) == 1.0 / 3)
    #expect(calibration.probability(logit: 4) == 1.0 / 3)
    #expect(calibration.probability(logit: 9) == 1)
    #expect(throws: ArbiterError.self) { try Calibration.isotonic(upper: [2, 1], values: [0, 1]).validate("c") }
  }

  @Test func decideAppliesTheOffersCalibration() throws {
    let plain = try TreeBundleTests().makeBundle().bundle
    let calibrated = try TreeBundleTests().makeBundle(calibrations: ["deposit-lgb": .platt(a: 1, b: 0.5)]).bundle
    let store = try FeatureStore(schema: plain.schema)
    let values = [Float](repeating: 1, count: plain.schema.width).enumerated().map {
      $0.offset == 0 ? Float(40) : $0.element
    }
    _ = try store.upsert([CustomerRecord(id: 1, displayName: "A", values: values)])
    try TestSupport.consentToEverything(store, ids: [1])
    let request = DecisionRequest(customerId: 1, channel: .contactCentre, maxOffers: 2)
    let before = try DecisionEngine(bundle: plain, customers: store).decide(request, decisionId: "a").offers.first {
      $0.offerId == "deposit-lgb"
    }!
    let after = try DecisionEngine(bundle: calibrated, customers: store).decide(request, decisionId: "b").offers.first {
      $0.offerId == "deposit-lgb"
    }!
    let z = log(before.propensity / (1 - before.propensity))
    #expect(abs(after.propensity - sigmoid(z + 0.5)) < 1e-12)
    #expect(try CompiledCatalogue(bundle: calibrated).offers[0].model.kind == "lightgbm+platt")
  }
}
