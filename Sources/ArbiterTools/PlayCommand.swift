import ArbiterAPI
import ArbiterCore
import ArbiterDemoBank
import ArbiterModels
import ArgumentParser
import Foundation
import GRPCCore

/// `arbiter-tools play`: demo-bank customers interacting with a running server through its gRPC
/// API, each offer made accepted or declined as the demo bank's hidden truth says; the outcomes
/// are recorded through the API. Closes the loop for `train --from-log`.
struct Play: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Play demo-bank customers against a running server: decisions, and outcomes drawn from the hidden truth.")

  @OptionGroup var server: ServerOptions
  @Option(help: "The bundle the server's population comes from (its manifest names the generator and seed).")
  var bundle = "models/demo"
  @Option(help: "Decisions to play.") var decisions = 10_000
  @Option(help: "Customers to draw from (the first of the population, as the server seeds them).") var customers = 100_000
  @Option(help: "Offers per decision.") var offers: UInt32 = 3
  @Option(help: "Seed of the customers, channels and responses.") var seed: UInt64 = 1

  func run() async throws {
    let loaded = try failing { try ModelBundle.load(from: bundle) }
    guard let population = loaded.manifest.population, population.generator == DemoPopulation.generatorName else {
      throw ValidationError("\(bundle) is not a demo-bank bundle (its manifest names no demo population)")
    }
    let generator = DemoPopulation(seed: population.seed)
    let truth = DemoBankCatalogue.groundTruth
    let evaluator = try failing { try GroundTruth.Evaluator(truth: truth, schema: loaded.schema) }
    let truthIndex = Dictionary(uniqueKeysWithValues: truth.offers.enumerated().map { ($1.offerId, $0) })
    let channels: [Channel] = [.web, .mobileApp, .email, .contactCentre]
    let (count, total, options, maxOffers) = (min(customers, population.customers), decisions, server.callOptions, offers)
    var random = SeededGenerator(seed: seed)
    let plan = (0..<total).map { _ in (random.below(count), channels[random.below(channels.count)], random.next()) }
    let started = Date()
    let (decided, shown, accepted) = try await server.withClient { client in
      let service = Arbiter_V1_DecisionService.Client(wrapping: client)
      var decided = 0, shown = 0, accepted = 0
      var pending: [Arbiter_V1_OutcomeEvent] = []
      for (number, channel, draw) in plan {
        let record = generator.customer(number: number)
        let answer = try await service.decide(
          .with {
            $0.customerID = record.id
            $0.channel = channel.proto
            $0.maxOffers = maxOffers
          }, options: options)
        guard !answer.offers.isEmpty else { continue }
        decided += 1
        var responses = SeededGenerator(seed: draw)
        for offer in answer.offers {
          guard let index = truthIndex[offer.offerID] else { continue }
          let p = record.values.withUnsafeBufferPointer { evaluator.probability(offer: index, customer: $0, channel: channel) }
          let yes = responses.chance(p)
          shown += 1
          accepted += yes ? 1 : 0
          pending.append(
            .with {
              $0.decisionID = answer.decisionID
              $0.offerID = offer.offerID
              $0.outcome = yes ? .accept : .decline
            })
        }
        if pending.count >= 500 {
          _ = try await service.recordOutcomes(.with { $0.outcomes = pending }, options: options)
          pending = []
        }
      }
      if !pending.isEmpty { _ = try await service.recordOutcomes(.with { $0.outcomes = pending }, options: options) }
      return (decided, shown, accepted)
    }
    print(
      "played \(total) interactions in \(String(format: "%.1f", Date().timeIntervalSince(started))) s: \(decided) with "
        + "offers, \(shown) offers made, \(accepted) accepted (drawn from the hidden truth), outcomes recorded")
  }
}
