import ArbiterCore
import ArbiterDecisioning
import ArbiterDemoBank
import ArbiterFeatureStore
import ArbiterModels
import ArgumentParser
import Foundation

/// `arbiter-tools adaptive-bench`: how fast the adaptive models learn, single thread, on outcomes
/// of the demo bank (uniformly random offers among the eligible, responses drawn from the hidden
/// truth); optionally writes the same outcomes for Vowpal Wabbit's contextual bandit
/// (`tools/bench-adaptive.sh` times both in one run).
struct AdaptiveBench: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "adaptive-bench",
    abstract: "Time the adaptive models' updates on demo-bank outcomes; optionally write them for Vowpal Wabbit.")

  @Option(help: "Outcomes to learn from.") var outcomes = 200_000
  @Option(help: "Demo customers to draw from.") var customers = 20_000
  @Option(help: "Random seed.") var seed: UInt64 = 11
  @Option(help: "Bundle (a demo-bank bundle).") var bundle = "models/demo"
  @Option(name: .customLong("vw-file"), help: "Write the outcomes in VW's cb_explore_adf format to this file.")
  var vwFile: String?

  /// One outcome as learnt: the customer's features, the offer's model, its offline log-odds, the response.
  struct Outcome {
    var row: Int
    var offer: Int
    var logOdds: Double
    var label: Bool
    var probability: Double
    var eligible: [(offer: Int, logOdds: Double)]
  }

  func run() throws {
    var loaded = try failing { try ModelBundle.load(from: bundle) }
    guard let population = loaded.manifest.population else {
      throw ValidationError("\(bundle) is not a demo-bank bundle")
    }
    loaded.catalogue = DecisionEngine.replayCatalogue(loaded.catalogue)
    loaded.catalogue.adaptive = AdaptivePolicy()
    let clock = 20_412.0
    let store = try failing {
      try DemoPopulation.unseenStore(schema: loaded.schema, population: population, customers: customers, nowDays: clock)
    }
    let engine = try failing { try DecisionEngine(bundle: loaded, customers: store, clock: { clock }) }
    let adaptive = engine.catalogue.adaptive!
    let truth = try failing { try GroundTruth.Evaluator(truth: DemoBankCatalogue.groundTruth, schema: loaded.schema) }
    let truthIndex = Dictionary(
      uniqueKeysWithValues: DemoBankCatalogue.groundTruth.offers.enumerated().map { ($1.offerId, $0) })

    // The outcomes, and each customer's features as the store reads them.
    let width = loaded.schema.width
    var features = [Float](repeating: 0, count: customers * width)
    features.withUnsafeMutableBufferPointer { all in
      for r in 0..<customers {
        store.read(row: r, into: UnsafeMutableBufferPointer(rebasing: all[r * width..<(r + 1) * width]), nowDays: clock)
      }
    }
    let ids = store.customerIds()
    var random = SeededGenerator(seed: seed)
    var played: [Outcome] = []
    played.reserveCapacity(outcomes)
    let context = [Float](repeating: Float(Channel.web.ordinal), count: loaded.schema.contextFeatures.count)
    while played.count < outcomes {
      let id = ids[random.below(ids.count)]
      let row = store.row(of: id)!
      let eligible = try failing { try engine.eligibleOffers(DecisionRequest(customerId: id, channel: .web)) }
      guard !eligible.isEmpty else { continue }
      let scored: [(offer: Int, logOdds: Double)] = features.withUnsafeBufferPointer { all in
        let x = UnsafeBufferPointer(rebasing: all[row * width..<(row + 1) * width])
        return context.withUnsafeBufferPointer { c in
          eligible.map { offerId in
            let offer = engine.catalogue.offerIndex[offerId]!
            let p = min(max(engine.catalogue.offers[offer].model.propensity(customer: x, context: c), 1e-12), 1 - 1e-12)
            return (offer, log(p / (1 - p)))
          }
        }
      }
      let chosen = scored[random.below(scored.count)]
      let p = features.withUnsafeBufferPointer { all in
        truth.probability(
          offer: truthIndex[engine.catalogue.offers[chosen.offer].definition.id]!,
          customer: UnsafeBufferPointer(rebasing: all[row * width..<(row + 1) * width]), channel: .web)
      }
      played.append(
        Outcome(
          row: row, offer: chosen.offer, logOdds: chosen.logOdds, label: random.chance(p),
          probability: 1 / Double(scored.count), eligible: scored))
    }
    if let vwFile { try writeVW(played, features: features, width: width, adaptive: adaptive.models, to: vwFile) }

    // The timed loop: each outcome learnt by its offer's model (standardising the features,
    // the Laplace step, publishing the weights), one thread.
    let slots = engine.catalogue.offers.indices.map { adaptive.slot(offer: $0, channel: .web) }
    let drift = adaptive.policy.driftVariance
    let started = DispatchTime.now().uptimeNanoseconds
    var refused = 0
    features.withUnsafeBufferPointer { all in
      for outcome in played {
        let x = UnsafeBufferPointer(rebasing: all[outcome.row * width..<(outcome.row + 1) * width])
        if !adaptive.models.update(
          slot: slots[outcome.offer], logit: outcome.logOdds, customer: x, label: outcome.label, drift: drift)
        {
          refused += 1
        }
      }
    }
    let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
    let positives = played.lazy.filter(\.label).count
    print(
      String(
        format: "arbiter adaptive updates: %d outcomes (%d responses, %.1f eligible offers on average) in %.3f s: "
          + "%.0f updates/s (%.0f ns each, %d refused), %d inputs per model", played.count, positives,
        Double(played.reduce(0) { $0 + $1.eligible.count }) / Double(played.count), seconds,
        Double(played.count) / seconds, seconds * 1e9 / Double(played.count), refused, adaptive.models.width))
  }

  /// The outcomes as VW's `cb_explore_adf` examples: the customer's standardised features shared
  /// (namespace s), one line per eligible offer (namespace a: the offer and its offline log-odds),
  /// the chosen one labelled `0:cost:probability` (cost −1 for a response, 0 for none).
  private func writeVW(
    _ played: [Outcome], features: [Float], width: Int, adaptive: AdaptiveModels, to path: String
  ) throws {
    guard FileManager.default.createFile(atPath: path, contents: nil), let handle = FileHandle(forWritingAtPath: path)
    else { throw ValidationError("\(path): cannot be written") }
    defer { try? handle.close() }
    var text = ""
    var s = [Double](repeating: 0, count: adaptive.columns.count)
    for (k, outcome) in played.enumerated() {
      features.withUnsafeBufferPointer { all in
        s.withUnsafeMutableBufferPointer {
          adaptive.standardise(
            customer: UnsafeBufferPointer(rebasing: all[outcome.row * width..<(outcome.row + 1) * width]), into: $0)
        }
      }
      text += "shared |s " + s.enumerated().map { "f\($0):\(String(format: "%.5g", $1))" }.joined(separator: " ") + "\n"
      for candidate in outcome.eligible {
        let label =
          candidate.offer == outcome.offer
          ? "0:\(outcome.label ? -1 : 0):\(String(format: "%.6g", outcome.probability)) " : ""
        text += "\(label)|a offer_\(candidate.offer) logit:\(String(format: "%.5g", candidate.logOdds))\n"
      }
      text += "\n"
      if k % 5_000 == 4_999 {
        handle.write(Data(text.utf8))
        text = ""
      }
    }
    handle.write(Data(text.utf8))
    print("wrote \(played.count) examples to \(path)")
  }
}
