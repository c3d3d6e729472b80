import ArbiterAPI
import ArbiterCore
import ArbiterDecisioning
import ArbiterLearning
import ArbiterModels
import Foundation
import GRPCCore
import Testing

/// Promote: a challenger goes live only when off-policy evaluation of the recent log says it is
/// better; refusals say why with the numbers; verdicts are audited and on the dashboard.
@Suite struct PromotionGateTests {
  /// A champion exploring 80% of the time (weak models) and the demo bundle as challenger in its
  /// shadow: a margin the evidence cannot meet is refused with the numbers; a reload on evidence
  /// takes only the challenger, and the gate's approval makes it live.
  @Test(.timeLimit(.minutes(10))) func aBetterChallengerGoesLiveOnlyOnTheEvidence() async throws {
    let root = try TestSupport.temporaryDirectory()
    try PolicyEvaluationTests.exploringBundle(root: root, epsilon: 0.8)
    let logPath = root + "/interactions.jsonl"
    let server = try TestSupport.makeServer(customers: 8_000, logPath: logPath, bundlePath: root) {
      $0.promotion.evaluation.replicates = 200
    }
    #expect(throws: ArbiterError.self) { try server.live.promoteChallenger(dryRun: true, nowMillis: 0) }
    try server.live.setChallenger(path: TestSupport.demoBundlePath, share: 1)
    let early = try server.live.promoteChallenger(dryRun: true, nowMillis: 0).verdict
    #expect(!early.approved && early.reason.contains("no decisions of demo/explorer with a shadow decision of demo/1"))
    let played = try await RetrainFromLogTests.play(server, decisions: 12_000, seed: 33)
    #expect(played.decided > 5_000, "\(played)")
    let challenger = server.live.shadowStatus!.snapshot.engine.versions

    try await withInProcessClient(server) { client in
      let admin = Arbiter_V1_AdminService.Client(wrapping: client)
      let dry = try await admin.promote(.with { $0.dryRun = true })
      #expect(dry.approved && !dry.promoted && dry.rounds > 5_000 && dry.margin == 0, "\(dry)")
      #expect(dry.challengerLower > dry.championValue && abs(dry.meanWeight - 1) < 0.1, "\(dry)")
      do {
        _ = try await admin.promote(.with { $0.margin = 0.5 })
        Issue.record("a challenger that does not beat a margin of 0.5 was promoted")
      } catch let error as RPCError {
        #expect(error.code == .failedPrecondition)
        #expect(
          error.message.hasPrefix("refused: the lower bound does not beat the champion by the margin"), "\(error)")
        #expect(error.message.contains("margin 0.5000") && error.message.contains("doubly robust"), "\(error)")
      }
      // Reload on evidence loads the challenger only.
      do {
        _ = try await admin.reload(
          .with {
            $0.bundlePath = root
            $0.requireEvaluation = true
          })
        Issue.record("reload on evidence loaded a bundle other than the challenger")
      } catch let error as RPCError {
        #expect(error.code == .failedPrecondition && error.message.contains("must be the challenger's"), "\(error)")
      }
      let reloaded = try await admin.reload(.with { $0.requireEvaluation = true })
      #expect(reloaded.changed && reloaded.current.bundleVersion == challenger.bundleVersion, "\(reloaded)")
    }
    #expect(server.live.snapshot.engine.versions == challenger && server.live.shadowStatus == nil)
    let audited = server.audit.entries.filter { $0.action.contains("Promote") || $0.action.contains("Reload") }
    #expect(audited.map(\.result) == ["OK", "FAILED_PRECONDITION", "FAILED_PRECONDITION", "OK"], "\(audited)")
    #expect(audited[1].message.contains("margin 0.5000"))

    // The dashboard shows the verdicts, newest first.
    let dashboard = try Arbiter_V1_DashboardSnapshot(
      jsonUTF8Bytes: try await HTTPTestClient(api: server.httpAPI).get("/v1/dashboard").body)
    #expect(dashboard.promotions.map(\.approved) == [true, false, true, false], "\(dashboard.promotions)")
    #expect(dashboard.promotions.map(\.promoted) == [true, false, false, false])
  }

  /// A greedy champion never made the challenger's other choices: the estimate would be the
  /// reward model's guess, and the gate says so.
  @Test func aGreedyChampionsLogDoesNotSupportAChallengerThatChoosesOtherwise() throws {
    let path = try TestSupport.temporaryDirectory() + "/greedy.jsonl"
    let schema = try ModelBundle.load(from: TestSupport.demoBundlePath).schema
    let values = [Float](repeating: 1, count: schema.width + schema.contextFeatures.count)
    let features = Data(values.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) })
      .base64EncodedString()
    var lines = ""
    for i in 0..<1_500 {
      let offer = i % 2 == 0 ? "a" : "b"
      lines +=
        #"{"type":"decision","decision_id":"d\#(i)","customer_id":\#(i + 1),"channel":"web","ts":\#(1_000 + i),"#
        + #""bundle":"champ/1","exploration":"greedy","offers":[{"offer_id":"\#(offer)","probability":1,"value":1}],"#
        + #""features":"\#(features)"}"# + "\n"
      // The challenger agrees on one decision in five.
      let other = i % 5 == 0 ? offer : "c"
      lines +=
        #"{"type":"shadow","decision_id":"d\#(i)","customer_id":\#(i + 1),"bundle":"chal/2","#
        + #""exploration":"greedy","offers":[{"offer_id":"\#(other)","probability":1,"value":1}]}"# + "\n"
      if i % 3 == 0 {
        lines +=
          #"{"type":"outcome","decision_id":"d\#(i)","customer_id":\#(i + 1),"offer_id":"\#(offer)","#
          + #""outcome":"accept","ts":\#(2_000 + i)}"# + "\n"
      }
    }
    // Far later: every window has closed.
    lines +=
      #"{"type":"outcome","decision_id":"d0","customer_id":1,"offer_id":"x","outcome":"impression","ts":9999999999}"#
      + "\n"
    try lines.write(toFile: path, atomically: true, encoding: .utf8)
    var configuration = PromotionGate.Configuration()
    configuration.evaluation.replicates = 100
    let verdict = try PromotionGate(configuration: configuration).judge(
      logPath: path, schema: schema, champion: "champ/1", challenger: "chal/2", nowMillis: 5)
    #expect(!verdict.approved && verdict.rounds == 1_500 && abs(verdict.meanWeight - 0.2) < 1e-9, "\(verdict)")
    #expect(verdict.reason.hasPrefix("refused: the champion's decisions rarely made the challenger's choices"))
    configuration.minimumRounds = 2_000
    let few = try PromotionGate(configuration: configuration).judge(
      logPath: path, schema: schema, champion: "champ/1", challenger: "chal/2", nowMillis: 5)
    #expect(
      few.reason == "1500 settled decisions with a shadow decision of chal/2, fewer than the 2000 a verdict needs")
    // Only the end of the log is read: a window of 4 KiB holds a handful of decisions.
    configuration.recentBytes = 4_096
    configuration.minimumRounds = 1
    let tail = try PromotionGate(configuration: configuration).judge(
      logPath: path, schema: schema, champion: "champ/1", challenger: "chal/2", nowMillis: 5)
    #expect(tail.rounds > 0 && tail.rounds < 15, "\(tail.rounds)")
  }
}
