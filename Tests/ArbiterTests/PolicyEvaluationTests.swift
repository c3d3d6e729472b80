import ArbiterCore
import ArbiterDecisioning
import ArbiterDemoBank
import ArbiterLearning
import ArbiterModels
import Foundation
import Testing

/// Off-policy evaluation checked where the truth is known: on Hillstrom's randomised e-mail
/// campaign against what each policy's arms measured directly; on a log an exploring server
/// wrote against the demo bank's hidden truth; and against a numpy reference of the estimators.
@Suite struct PolicyEvaluationTests {
  static let hillstrom = TestSupport.repoRoot + "/../shared/data/hillstrom_email/hillstrom.csv"
  static let targeting = TestSupport.repoRoot + "/docs/examples/hillstrom-targeting.json"

  static func hillstromLog(reward: String) throws -> LoggedBanditTable {
    var options = LoggedBanditTable.Options(actionColumn: "segment", rewardColumn: reward)
    options.probability = 1.0 / 3
    options.groupColumn = "channel"
    options.ignored = Set(["visit", "conversion", "spend"]).subtracting([reward])
    return try LoggedBanditTable.read(path: hillstrom, options: options).0
  }

  @Test(.timeLimit(.minutes(5))) func onHillstromEachEstimateMatchesWhatThePolicysArmsMeasured() async throws {
    // The estimates are computed off the cooperative pool (a long loop there starves other tests).
    let results = try await TestSupport.offPool { () throws -> [(String, ArmMeasurement, OffPolicyEvaluation.Segment)] in
      let log = try Self.hillstromLog(reward: "visit")
      guard log.table.rowCount == 64_000, log.actionNames == ["Mens E-Mail", "No E-Mail", "Womens E-Mail"] else {
        throw ArbiterError(.internalError, "hillstrom.csv read as \(log.table.rowCount) rows of \(log.actionNames)")
      }
      let predictions = try CrossFittedRewards.fit(
        table: log.table, actions: log.actions, actionCount: 3, learner: .logistic)
      var options = OffPolicyEvaluation.Options()
      options.replicates = 300
      let policies: [RulePolicy] = [
        .always("Womens E-Mail"), .always("No E-Mail"),
        try RulePolicy(path: Self.targeting, schema: log.table.schema, actions: Set(log.actionNames)),
      ]
      return try policies.map { policy in
        let rounds = log.rounds(policy: policy, predictions: predictions)
        return (
          policy.name, try ArmMeasurement.measure(policy, on: log),
          try OffPolicyEvaluation.evaluate(rounds, options: options).total
        )
      }
    }
    var values: [Double] = []
    for (name, measured, total) in results {
      for (estimator, estimate) in [("IPW", total.ipw), ("SNIPW", total.snipw), ("DR", total.doublyRobust)] {
        #expect(
          estimate.lower <= measured.value && measured.value <= estimate.upper,
          "\(name): \(estimator) \(estimate) does not contain the arms' \(measured.value)")
      }
      // The direct method's interval is the rounds' sampling only, not its model's error: it is
      // held to the arms' own interval instead.
      #expect(
        abs(total.directMethod.value - measured.value) <= 1.96 * measured.standardError,
        "\(name): DM \(total.directMethod.value), arms \(measured.value) ± \(1.96 * measured.standardError)")
      #expect(total.warnings.isEmpty, "\(name): \(total.warnings)")
      values.append(total.doublyRobust.value)
    }
    // The e-mails work: each beats sending none, and targeting beats the women's e-mail for all.
    #expect(values[0] > values[1] + 0.04 && values[2] > values[0] + 0.015, "\(values)")
  }

  @Test(.timeLimit(.minutes(5))) func theNumpyReferenceAgreesToOneInABillion() async throws {
    let out = try TestSupport.temporaryDirectory() + "/ope"
    let tools = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
      .appendingPathComponent("arbiter-tools").path
    let printed = try await TestSupport.run(
      tools,
      [
        "evaluate-policy", "--csv", Self.hillstrom, "--action", "segment", "--reward-column", "conversion",
        "--logged-probability", "0.3333333333333333", "--group", "channel", "--ignore", "visit,spend",
        "--candidate", "always:Mens E-Mail", "--candidate", Self.targeting, "--compare-arms", "--replicates", "200",
        "--write-rounds", "--out", out,
      ])
    #expect(printed.contains("measured on the arms") && printed.contains("Multichannel"), "\(printed)")
    let reference = try await TestSupport.run("/usr/bin/python3", [TestSupport.repoRoot + "/tools/ope-reference.py", out])
    #expect(reference.contains("2 candidates; largest difference from numpy"), "\(reference)")
  }

  /// A server exploring with a weak bundle (epsilon-greedy) logs its decisions and the demo
  /// bank's hidden truth answers them; the estimates of two candidates — a stronger bundle
  /// replayed on the logged features, and the same bundle as a challenger in the shadow — are
  /// checked against their true value on the same traffic, which the truth gives exactly.
  /// A weak bundle (demo/explorer) exploring half the time (or as `epsilon` says), with nothing but eligibility between a customer and
  /// an offer (no contact policy, control group, quotas, capacity or channel cost, which would
  /// keep offers its weak models price below cost out of every draw), so that the logger could
  /// make every choice a replayed candidate makes.
  static func exploringBundle(root: String, epsilon: Double = 0.5) throws {
    var dataset = try DemoDataset.generate(seed: 5, customers: 5_000)
    dataset.catalogue.exploration = ExplorationPolicy(method: .epsilonGreedy, epsilon: epsilon)
    dataset.catalogue = DecisionEngine.replayCatalogue(dataset.catalogue)
    dataset.catalogue.arbitration.subtractChannelCost = false
    _ = try dataset.trainBundle(name: "demo", version: "explorer").write(toRoot: root)
  }

  @Test(.timeLimit(.minutes(10))) func onAnExploringServersLogTheEstimatesMatchTheHiddenTruth() async throws {
    let root = try TestSupport.temporaryDirectory()
    try Self.exploringBundle(root: root)
    let logPath = root + "/interactions.jsonl"
    let server = try TestSupport.makeServer(customers: 8_000, logPath: logPath, bundlePath: root)
    try server.live.setChallenger(path: TestSupport.demoBundlePath, share: 1)
    let played = try await RetrainFromLogTests.play(server, decisions: 12_000, seed: 21)
    #expect(played.decided > 5_000, "\(played)")
    server.live.log.flush()

    // The analysis runs off the cooperative pool (a long loop there starves other tests).
    struct Found: Sendable {
      var used: Int?, replayed: Int, shadowed: Int
      var replayTruth: Double, shadowTruth: Double, loggedTruth: Double
      var replay: OffPolicyEvaluation.Segment, shadow: OffPolicyEvaluation.Segment
      /// The standard errors of the two mean weights.
      var replayWeightError: Double, shadowWeightError: Double
    }
    let found = try await TestSupport.offPool { () throws -> Found in
      let logging = server.live.snapshot.bundle
      let log = try LoggedDecisions.read(paths: [logPath], window: .seconds(14 * 86_400))
      let source = try LoggedPolicyRounds(
        log: log, schema: logging.schema, window: .seconds(14 * 86_400), reward: .response)
      var strong = try ModelBundle.load(from: TestSupport.demoBundlePath)
      strong.catalogue = DecisionEngine.replayCatalogue(strong.catalogue)
      strong.catalogue.arbitration.subtractChannelCost = false
      let engine = try DecisionEngine(bundle: strong, customers: server.store)
      // The truth: each round's chance of a response to what the candidate puts first.
      let truth = DemoBankCatalogue.groundTruth
      let evaluator = try GroundTruth.Evaluator(truth: truth, schema: logging.schema)
      let truthIndex = Dictionary(uniqueKeysWithValues: truth.offers.enumerated().map { ($1.offerId, $0) })
      var vector = [Float](repeating: 0, count: logging.schema.width)
      func trueChance(_ entry: LoggedDecisions.Entry, _ offerId: String) -> Double {
        let row = server.store.row(of: entry.customerId)!
        vector.withUnsafeMutableBufferPointer { server.store.read(row: row, into: $0, nowDays: TestSupport.fixedClockDays) }
        return vector.withUnsafeBufferPointer {
          evaluator.probability(offer: truthIndex[offerId]!, customer: $0, channel: Channel(name: entry.channel)!)
        }
      }
      var replayTruth = 0.0, shadowTruth = 0.0, loggedTruth = 0.0
      var replayed = 0, shadowed = 0
      for entry in log.entries where entry.features != nil && !entry.shown.isEmpty {
        let choices = engine.replayFirstChoices(
          customerId: entry.customerId, channel: Channel(name: entry.channel)!, features: entry.features!,
          atMillis: entry.timestampMillis)
        replayTruth += choices.reduce(0) { $0 + $1.probability * trueChance(entry, $1.offerId) }
        loggedTruth += trueChance(entry, entry.shown[0].offerId)
        replayed += 1
        if let first = entry.shadow?.first {
          shadowTruth += trueChance(entry, first.offerId)
          shadowed += 1
        }
      }
      // 99% intervals: the server's decision ids, which seed its exploration, differ from run to run.
      var options = OffPolicyEvaluation.Options()
      options.replicates = 300
      options.level = 0.99
      let replayRounds = source.rounds(.engine(engine)), shadowRounds = source.rounds(.shadow)
      func weightError(_ rounds: [PolicyRound]) -> Double {
        let weights = rounds.map(\.weight)
        let mean = weights.reduce(0, +) / Double(weights.count)
        let variance = weights.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(weights.count - 1)
        return (variance / Double(weights.count)).squareRoot()
      }
      return Found(
        used: source.counts["used"], replayed: replayed, shadowed: shadowed, replayTruth: replayTruth,
        shadowTruth: shadowTruth, loggedTruth: loggedTruth,
        replay: try OffPolicyEvaluation.evaluate(replayRounds, options: options).total,
        shadow: try OffPolicyEvaluation.evaluate(shadowRounds, options: options).total,
        replayWeightError: weightError(replayRounds), shadowWeightError: weightError(shadowRounds))
    }
    let (replay, shadow, replayed, shadowed) = (found.replay, found.shadow, found.replayed, found.shadowed)
    let (replayTruth, shadowTruth, loggedTruth) = (found.replayTruth, found.shadowTruth, found.loggedTruth)
    #expect(found.used == replayed)
    #expect(shadow.rounds == shadowed && shadowed > replayed / 2, "\(shadow.rounds) shadow rounds of \(replayed)")
    // Every choice of the candidates was one the logger could make: the mean weight is 1 within
    // four of its standard errors.
    #expect(
      abs(replay.meanWeight - 1) < 4 * found.replayWeightError && abs(shadow.meanWeight - 1) < 4 * found.shadowWeightError,
      "\(replay.meanWeight) ± \(found.replayWeightError), \(shadow.meanWeight) ± \(found.shadowWeightError)")
    let checks = [
      ("replayed", replay, replayTruth / Double(replayed)), ("shadow", shadow, shadowTruth / Double(shadowed)),
    ]
    for (name, total, trueValue) in checks {
      for (estimator, estimate) in [("IPW", total.ipw), ("SNIPW", total.snipw), ("DR", total.doublyRobust)] {
        #expect(
          estimate.lower <= trueValue && trueValue <= estimate.upper,
          "\(name): \(estimator) \(estimate) does not contain the true \(trueValue)")
      }
    }
    // The weak policy's own value is what the log shows, and the stronger bundle is worth more.
    #expect(abs(replay.logged.value - loggedTruth / Double(replayed)) < 3 * replay.logged.standardError + 0.002)
    #expect(replayTruth / Double(replayed) > loggedTruth / Double(replayed))
  }

  @Test func onPolicyEveryWeightIsOneAndAChoiceNeverLoggedIsFlagged() throws {
    let onPolicy = (0..<400).map { i in
      PolicyRound(
        group: i % 2 == 0 ? "web" : "email", loggedProbability: 0.5, reward: i % 3 == 0 ? 1 : 0,
        targetProbability: 0.5, predictedReward: 0.3, predictedTargetValue: 0.3)
    }
    let fair = try OffPolicyEvaluation.evaluate(onPolicy)
    #expect(fair.total.ipw.value == fair.total.logged.value && fair.total.effectiveSampleSize == 400)
    #expect(fair.total.meanWeight == 1 && fair.total.warnings.isEmpty && fair.groups.map(\.name) == ["email", "web"])
    #expect(fair.total.doublyRobust.value == fair.total.logged.value)
    // A greedy logger and a candidate that agrees with it on one decision in ten.
    let unsupported = (0..<400).map { i in
      PolicyRound(
        group: "web", loggedProbability: 1, reward: 1, targetProbability: i % 10 == 0 ? 1 : 0, predictedReward: 0.5,
        predictedTargetValue: 0.5)
    }
    let warned = try OffPolicyEvaluation.evaluate(unsupported).total
    #expect(warned.warnings.count == 2, "\(warned.warnings)")
    #expect(warned.warnings.contains { $0.contains("mean weight 0.100") })
  }

  @Test func badInputIsRefusedNamingWhatIsWrong() throws {
    func message(_ body: () throws -> Void) -> String {
      do {
        try body()
        return "no error"
      } catch let error as ArbiterError { return error.message } catch { return "\(error)" }
    }
    let good = PolicyRound(
      group: "web", loggedProbability: 0.5, reward: 1, targetProbability: 1, predictedReward: 0.5,
      predictedTargetValue: 0.5)
    var bad = good
    bad.loggedProbability = 0
    #expect(message { _ = try OffPolicyEvaluation.evaluate([good, good, bad]) } == "round 3: the logged probability 0.0 is not in (0, 1]")
    bad = good
    bad.predictedReward = .nan
    #expect(message { _ = try OffPolicyEvaluation.evaluate([bad]) }.hasPrefix("round 1: the reward or a prediction"))
    #expect(message { _ = try OffPolicyEvaluation.evaluate([]) } == "no logged rounds to evaluate on")

    let schema = try Self.hillstromLog(reward: "visit").table.schema
    let actions: Set = ["A", "B"]
    func policy(_ json: String) -> String {
      message { _ = try RulePolicy(json: Data(json.utf8), file: "p.json", schema: schema, actions: actions) }
    }
    #expect(policy(#"{"rules":[{"action":"C"}]}"#) == "p.json: rule 1: unknown action 'C' (the log has: A, B)")
    #expect(policy(#"{"rules":[{"when":"womens == 1","action":"A"}]}"#).contains("the last rule must have no 'when'"))
    #expect(policy(#"{"rules":[{"action":"A"},{"action":"B"}]}"#) == "p.json: rule 1: only the last rule may have no 'when'")
    #expect(policy(#"{"rules":[{"when":"womans == 1","action":"A"},{"action":"B"}]}"#).hasPrefix("p.json: rule 1: 'when' at position"))
    #expect(policy(#"{"rules":[{"actions":{"A":0.5,"B":0.4}}]}"#).contains("sum to 0.9"))
    #expect(policy(#"[1]"#) == "p.json: not a JSON object")

    var options = LoggedBanditTable.Options(actionColumn: "arm", rewardColumn: "y")
    options.probabilityColumn = "p"
    func table(_ text: String) -> String {
      message { _ = try LoggedBanditTable.read(text: text, file: "log.csv", options: options) }
    }
    #expect(table("x,arm,p,y\n1,A,0.5,1\n2,B,1.5,0\n") == "log.csv:3: the logged probability '1.5' in 'p' is not in (0, 1]")
    #expect(table("x,arm,p,y\n1,A,0.5,1\n2,,0.5,0\n") == "log.csv:3: no action in 'arm'")
    options.probability = 0.5
    #expect(table("x,arm,p,y\n1,A,0.5,1\n").hasPrefix("give either"))
  }
}
