import ArbiterAPI
import ArbiterCore
import ArbiterDecisioning
import ArbiterModels
import ArbiterServer
import Foundation
import GRPCCore
import Testing

/// The adaptive models in a server: outcomes recorded through the API are learnt, joined with
/// the features their decisions saw; the state is in the status, survives a server that stops
/// without shutting down (snapshot plus the log after it), and can be reset.
@Suite struct AdaptiveServerTests {
  /// The demo bundle with an adaptive section, written under a temporary root.
  static func adaptiveBundle() throws -> String {
    let demo = try ModelBundle.load(from: TestSupport.demoBundlePath)
    var catalogue = demo.catalogue
    catalogue.adaptive = AdaptivePolicy()
    let bundle = try ModelBundle(
      name: "demo", version: "adaptive", createdBy: "test", schema: demo.schema, catalogue: catalogue,
      models: demo.models, population: demo.manifest.population)
    let root = try TestSupport.temporaryDirectory()
    try bundle.write(toRoot: root)
    return root
  }

  static func server(root: String) throws -> ArbiterServer {
    try TestSupport.makeServer(customers: 3_000, logPath: root + "/interactions.jsonl", bundlePath: root) {
      $0.adaptive.snapshotPath = root + "/adaptive.json"
    }
  }

  /// Decides for `customers` and answers each first offer through the API: accepted every third.
  static func answer(_ server: ArbiterServer, customers: ArraySlice<UInt64>) async throws -> Int {
    try await withInProcessClient(server) { client in
      let decisions = Arbiter_V1_DecisionService.Client(wrapping: client)
      var outcomes: [Arbiter_V1_OutcomeEvent] = []
      for (k, id) in customers.enumerated() {
        let answer = try await decisions.decide(
          .with {
            $0.customerID = id
            $0.channel = .web
            $0.maxOffers = 1
          })
        guard let first = answer.offers.first else { continue }
        outcomes.append(
          .with {
            $0.decisionID = answer.decisionID
            $0.offerID = first.offerID
            $0.outcome = k % 3 == 0 ? .accept : .decline
          })
      }
      _ = try await decisions.recordOutcomes(.with { $0.outcomes = outcomes })
      // A retry of the same outcomes is acknowledged and not learnt twice.
      _ = try await decisions.recordOutcomes(.with { $0.outcomes = outcomes })
      return outcomes.count
    }
  }

  @Test(.timeLimit(.minutes(5))) func outcomesAreLearntKeptAcrossAnAbruptStopAndReset() async throws {
    let root = try Self.adaptiveBundle()
    let first = try Self.server(root: root)
    let ids = first.store.customerIds()
    let answered = try await Self.answer(first, customers: ids[0..<400])
    #expect(answered > 100)
    let status = try await withInProcessClient(first) { client in
      try await Arbiter_V1_AdminService.Client(wrapping: client).getStatus(.init())
    }
    #expect(status.adaptive.enabled && status.adaptive.responses + status.adaptive.declines == UInt64(answered))
    #expect(status.adaptive.models.reduce(0) { $0 + $1.updates } == UInt64(answered), "\(status.adaptive)")
    #expect(status.adaptive.models.contains { $0.updates > 0 && $0.intercept != 0 })

    // A snapshot, more outcomes after it, then the server stops without shutting down: only
    // what the periodic flush wrote to the log survives.
    let store = AdaptiveSnapshotStore(path: root + "/adaptive.json")
    try store.write(try #require(first.live.adaptiveSnapshot(nowMillis: 1)))
    let more = try await Self.answer(first, customers: ids[400..<800])
    first.live.log.flush()
    let before = try #require(first.live.adaptiveModels).snapshot()
    #expect(before.models.values.reduce(0) { $0 + $1.updates } == UInt64(answered + more))

    let second = try Self.server(root: root)
    let after = try #require(second.live.adaptiveModels).snapshot()
    // Every outcome is learnt again; the weights agree to 1e-12 (the log keeps each log-odds to
    // the digits its JSON number prints).
    let differences = before.models.keys.sorted().compactMap { key -> String? in
      guard let a = before.models[key], let b = after.models[key] else { return "\(key): missing" }
      let largest = zip(a.mean, b.mean).map { abs($0 - $1) }.max() ?? 0
      return a.updates != b.updates || largest > 1e-12
        ? "\(key): updates \(a.updates)/\(b.updates), Δmean \(largest)" : nil
    }
    #expect(differences.isEmpty && after.models.count == before.models.count, "\(differences.prefix(8))")

    // Reset: every model back to its prior, audited.
    let reset = try await withInProcessClient(second) { client in
      try await Arbiter_V1_AdminService.Client(wrapping: client).resetAdaptive(.init())
    }
    #expect(
      reset.models.allSatisfy { $0.updates == 0 && $0.intercept == 0 && $0.logOddsWeight == 1 }, "\(reset.models)")
    #expect(second.audit.entries.contains { $0.action.contains("ResetAdaptive") && $0.result == "OK" })
  }
}
