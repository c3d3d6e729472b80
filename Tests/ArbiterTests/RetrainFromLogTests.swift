import ArbiterAPI
import ArbiterCore
import ArbiterDecisioning
import ArbiterDemoBank
import ArbiterModels
import ArbiterServer
import Foundation
import GRPCCore
import Testing

/// The loop closed, at small scale: a server deciding with a weak bundle logs what its models saw;
/// customers respond through the API as the demo bank's hidden truth says; a bundle retrained
/// from the log (weighted by the logged probabilities) is loaded, and `simulate` finds it at
/// least as close to the oracle as the first.
@Suite struct RetrainFromLogTests {
  /// A bundle trained on a small demo history: weak, so that the log has something to teach;
  /// its policy explores (epsilon-greedy, 30%), as a policy whose log is to be learnt from should.
  static func weakBundle(root: String) throws -> String {
    var dataset = try DemoDataset.generate(seed: 5, customers: 5_000)
    dataset.catalogue.exploration = ExplorationPolicy(method: .epsilonGreedy, epsilon: 0.3)
    return try dataset.trainBundle(name: "demo", version: "1").write(toRoot: root)
  }

  /// Plays `decisions` interactions through the gRPC API: each offer made is accepted or
  /// declined by a draw from its true probability, and the outcomes are recorded through the API.
  static func play(_ server: ArbiterServer, decisions: Int, seed: UInt64) async throws -> (decided: Int, accepted: Int) {
    let schema = server.live.snapshot.bundle.schema
    let truth = DemoBankCatalogue.groundTruth
    let evaluator = try GroundTruth.Evaluator(truth: truth, schema: schema)
    let truthIndex = Dictionary(uniqueKeysWithValues: truth.offers.enumerated().map { ($1.offerId, $0) })
    let ids = server.store.customerIds()
    let channels: [(Arbiter_V1_Channel, Channel)] = [
      (.web, .web), (.mobileApp, .mobileApp), (.email, .email), (.contactCentre, .contactCentre),
    ]
    return try await withInProcessClient(server) { client in
      let decisionService = Arbiter_V1_DecisionService.Client(wrapping: client)
      var random = SeededGenerator(seed: seed)
      var vector = [Float](repeating: 0, count: schema.width)
      var decided = 0, accepted = 0
      var pending: [Arbiter_V1_OutcomeEvent] = []
      for _ in 0..<decisions {
        let customer = ids[random.below(ids.count)]
        let (wire, channel) = channels[random.below(channels.count)]
        let answer = try await decisionService.decide(
          .with {
            $0.customerID = customer
            $0.channel = wire
            $0.maxOffers = 3
          })
        guard !answer.offers.isEmpty, let row = server.store.row(of: customer) else { continue }
        decided += 1
        vector.withUnsafeMutableBufferPointer { server.store.read(row: row, into: $0, nowDays: TestSupport.fixedClockDays) }
        for offer in answer.offers {
          let p = vector.withUnsafeBufferPointer {
            evaluator.probability(offer: truthIndex[offer.offerID]!, customer: $0, channel: channel)
          }
          let yes = random.chance(p)
          accepted += yes ? 1 : 0
          pending.append(
            .with {
              $0.decisionID = answer.decisionID
              $0.offerID = offer.offerID
              $0.outcome = yes ? .accept : .decline
              // The customer answers an hour after the decision (the server's clock is fixed in tests).
              $0.timestampMillis = Int64(TestSupport.fixedClockDays * 86_400_000) + 3_600_000
            })
        }
        if pending.count >= 200 {
          _ = try await decisionService.recordOutcomes(.with { $0.outcomes = pending })
          pending = []
        }
      }
      if !pending.isEmpty { _ = try await decisionService.recordOutcomes(.with { $0.outcomes = pending }) }
      return (decided, accepted)
    }
  }

  /// `arbiter-tools simulate`'s share of the oracle for Arbiter's greedy choices with `bundle`.
  static func oracleShare(bundle: String) throws -> Double {
    let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
      .appendingPathComponent("arbiter-tools")
    let process = Process()
    process.executableURL = binary
    process.arguments = ["simulate", "--bundle", bundle, "--interactions", "6000", "--customers", "6000", "--seed", "3"]
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    let line = try #require(output.split(separator: "\n").first { $0.hasPrefix("Arbiter, greedy") }, "\(output)")
    return try #require(Double(line.split(separator: " ").last!.dropLast()), "\(output)")
  }

  @Test(.timeLimit(.minutes(10))) func aBundleRetrainedFromTheLogIsAtLeastAsCloseToTheOracle() async throws {
    let root = try TestSupport.temporaryDirectory()
    let first = try Self.weakBundle(root: root)
    let logPath = root + "/interactions.jsonl"
    let server = try TestSupport.makeServer(customers: 20_000, logPath: logPath, bundlePath: root)
    let played = try await Self.play(server, decisions: 40_000, seed: 9)
    #expect(played.decided > 6_000 && played.accepted > 200, "\(played)")
    server.live.log.flush()

    // Every decision line carries what its models saw, exactly.
    let firstLine = try #require(
      try String(contentsOfFile: logPath, encoding: .utf8).split(separator: "\n").first { $0.contains("\"decision\"") })
    #expect(firstLine.contains("\"features\":\""))

    let current = try ModelBundle.load(from: first)
    let (examples, unknown) = try LoggedExamples.read(
      paths: [logPath], customerWidth: current.schema.width, contextWidth: current.schema.contextFeatures.count,
      window: .seconds(14 * 86_400), weighByProbability: true, maximumWeight: 10)
    #expect(unknown.isEmpty)
    #expect(examples.counts.positives == played.accepted)
    #expect(examples.counts.declined + examples.counts.positives == examples.counts.offersShown)
    let (models, report) = examples.retrain(current: current, trainer: LogisticTrainer(), minimumExamples: 100)
    #expect(report.filter { $0.keptBecause == nil }.count >= 10, "\(report.map { "\($0.offerId): \($0.keptBecause ?? "retrained")" })")
    var packer = BundlePacker(
      name: "demo", version: "2", schema: current.schema, catalogue: current.catalogue, files: [])
    packer.population = current.manifest.population
    let second = try packer.pack(models, extraFiles: [:], into: root)

    // The running server takes it, and the decisions it makes are as good or better.
    _ = try server.live.reload(from: second)
    #expect(server.live.snapshot.engine.versions.bundleVersion == "2")
    let before = try Self.oracleShare(bundle: first)
    let after = try Self.oracleShare(bundle: second)
    print("RetrainFromLogTests: share of the oracle, first bundle \(before)%, retrained from the log \(after)%")
    #expect(after >= before, "share of the oracle: first \(before)%, retrained \(after)%")
  }

  @Test func outcomesForDecisionsTheLogLacksAreNamedByLine() throws {
    let directory = try TestSupport.temporaryDirectory()
    let path = directory + "/log.jsonl"
    try """
    {"type":"outcome","decision_id":"d-1","customer_id":1,"offer_id":"x","outcome":"accept","ts":5}

    """.write(toFile: path, atomically: true, encoding: .utf8)
    #expect(throws: ArbiterError.self) {
      _ = try LoggedExamples.read(
        paths: [path], customerWidth: 2, contextWidth: 0, window: .seconds(60), weighByProbability: false)
    }
    do {
      _ = try LoggedExamples.read(
        paths: [path], customerWidth: 2, contextWidth: 0, window: .seconds(60), weighByProbability: false)
    } catch {
      #expect(
        error.message == "1 outcome(s) for decisions the log does not have, first: log.jsonl:1: outcome 'accept' for "
          + "decision 'd-1', which the log does not have; give the earlier log files too, or allow them with "
          + "--skip-unknown-outcomes")
    }
    let (_, unknown) = try LoggedExamples.read(
      paths: [path], customerWidth: 2, contextWidth: 0, window: .seconds(60), weighByProbability: false,
      unknownOutcomesAllowed: true)
    #expect(unknown.count == 1)
    try "not json\n".write(toFile: path, atomically: true, encoding: .utf8)
    do {
      _ = try LoggedExamples.read(
        paths: [path], customerWidth: 2, contextWidth: 0, window: .seconds(60), weighByProbability: false)
      Issue.record("a line that is not JSON was read")
    } catch { #expect(error.message == "log.jsonl:1: not a line of an interaction log") }
  }
}
