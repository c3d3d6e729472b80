import ArbiterAPI
import ArbiterAccess
import ArbiterCore
import ArbiterModels
import ArbiterServer
import Foundation
import GRPCCore
import Testing

/// Admin actions go to an append-only audit log (who, what, when, result), refused attempts
/// too; Reload and SetChallenger load bundles only from the configured model roots.
@Suite struct AuditAndModelRootsTests {
  /// A server requiring credentials, auditing to a file, with `root` as its only model root.
  static func server(root: String, auditPath: String) throws -> ArbiterServer {
    try TestSupport.makeServer {
      $0.access = AccessTests.configuration()
      $0.access.auditLog = auditPath
      $0.bundle.modelRoots = [root]
    }
  }

  static func lines(_ path: String) throws -> [[String: Any]] {
    try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map {
      try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
    }
  }

  @Test func pathsOutsideTheRootsAreRefusedThroughLinksAndDotDot() throws {
    let (root, version) = try TestSupport.copyOfDemoBundle()
    let roots = ModelRoots([root])
    try roots.check(root, field: "bundle_path")
    try roots.check(version, field: "bundle_path")
    try roots.check(root + "/1/../1", field: "bundle_path")
    try roots.check(root + "/not-yet/2", field: "bundle_path")  // inside, though missing: loading says so
    try FileManager.default.createSymbolicLink(atPath: root + "/etc", withDestinationPath: "/etc")
    for path in ["/etc/passwd", root + "/../", root + "/1/../../x", root + "/etc", root + "/etc/passwd", root + "x"] {
      #expect(throws: ArbiterError.self, "\(path)") { try roots.check(path, field: "bundle_path") }
    }
    do {
      try roots.check("/etc/passwd", field: "bundle_path")
    } catch {
      #expect(error.code == .invalidArgument)
      #expect(
        error.message
          == "bundle_path: '/etc/passwd' is outside the model roots (\(root)); bundles are loaded only from there (bundle.model-roots in the configuration)"
      )
    }
    #expect(ModelRoots.containing(bundlePath: "models/demo").roots == ["models"])
  }

  @Test func gRPCAdminActionsAndRefusedAttemptsAreAudited() async throws {
    let (root, _) = try TestSupport.copyOfDemoBundle()
    let auditPath = try TestSupport.temporaryDirectory() + "/audit.jsonl"
    let server = try Self.server(root: root, auditPath: auditPath)
    let admin: Metadata = ["authorization": "Bearer \(AccessTests.adminKey)"]
    let web: Metadata = ["authorization": "Bearer \(AccessTests.decideKey)"]
    try await withInProcessClient(server) { client in
      let service = Arbiter_V1_AdminService.Client(wrapping: client)
      let reloaded = try await service.reload(.with { $0.bundlePath = root }, metadata: admin)
      #expect(reloaded.current.bundleVersion == "1")
      await expectStatus(.permissionDenied, containing: "needs the role admin") {
        _ = try await service.reload(.with { $0.bundlePath = root }, metadata: web)
      }
      await expectStatus(.invalidArgument, containing: "'/etc/passwd' is outside the model roots") {
        _ = try await service.setChallenger(
          .with {
            $0.bundlePath = "/etc/passwd"; $0.share = 0.1
          }, metadata: admin)
      }
      // A huge path: the message stays short enough for any client's header limit.
      let long = "/" + String(repeating: "a", count: 100_000)
      do {
        _ = try await service.reload(.with { $0.bundlePath = long }, metadata: admin)
        Issue.record("a 100,000-character path was accepted")
      } catch let error as RPCError {
        #expect(error.code == .invalidArgument && error.message.count <= RPCError.messageLimit)
        #expect(error.message.contains("(100001 characters)"))
      }
      _ = try await service.getStatus(.init(), metadata: admin)  // read-only: not audited
    }
    let entries = server.audit.entries
    #expect(entries.map(\.result) == ["OK", "PERMISSION_DENIED", "INVALID_ARGUMENT", "INVALID_ARGUMENT"])
    #expect(entries.map(\.who) == ["operator", "web-frontend", "operator", "operator"])
    #expect(
      entries.map(\.action) == [
        "arbiter.v1.AdminService/Reload", "arbiter.v1.AdminService/Reload", "arbiter.v1.AdminService/SetChallenger",
        "arbiter.v1.AdminService/Reload",
      ])
    #expect(entries.allSatisfy { $0.door == "grpc" })
    #expect(entries[0].target == root && entries[0].credential == "api-key")
    #expect(entries[3].target.count < 300, "a huge target is cut in the log too")
    // The file holds the same, one JSON line each, with the time.
    let lines = try Self.lines(auditPath)
    #expect(lines.count == 4)
    #expect(lines[0]["who"] as? String == "operator" && lines[0]["result"] as? String == "OK")
    #expect(lines[0]["target"] as? String == root && lines[0]["door"] as? String == "grpc")
    #expect((lines[1]["message"] as? String ?? "").contains("needs the role admin"))
    let time = try #require(lines[0]["time"] as? String)
    #expect(try Date(time, strategy: .iso8601).timeIntervalSinceNow > -60)
    let mode = try FileManager.default.attributesOfItem(atPath: auditPath)[.posixPermissions] as? Int
    #expect(mode == 0o600)

    // Another server on the same file appends: nothing written before is lost.
    let again = try Self.server(root: root, auditPath: auditPath)
    try await withInProcessClient(again) { client in
      _ = try await Arbiter_V1_AdminService.Client(wrapping: client).setChallenger(
        .with {
          $0.bundlePath = ""; $0.share = 0
        }, metadata: admin)
    }
    let after = try Self.lines(auditPath)
    #expect(after.count == 5 && after.last?["action"] as? String == "arbiter.v1.AdminService/SetChallenger")
    #expect(after.prefix(4).map { $0["result"] as? String } == lines.map { $0["result"] as? String })
  }

  @Test(.timeLimit(.minutes(2))) func leanAdminActionsAreAuditedWithTheHellosCaller() async throws {
    let (root, version) = try TestSupport.copyOfDemoBundle()
    let auditPath = try TestSupport.temporaryDirectory() + "/audit.jsonl"
    let server = try Self.server(root: root, auditPath: auditPath)
    let method = "/arbiter.v1.AdminService/SetChallenger"
    let request: [UInt8] = try Arbiter_V1_SetChallengerRequest.with {
      $0.bundlePath = version
      $0.share = 0.25
    }.serializedBytes()
    try await withThrowingTaskGroup(of: Void.self) { group in
      group.addTask { try await server.runLeanServer(port: 0) }
      let lean = try await TestSupport.leanPort(of: server)
      let operator_ = try LeanTestClient(port: lean)
      operator_.send(
        LeanTestClient.hello(AccessTests.adminKey) + LeanTestClient.frame(stream: 1, method: method, message: request))
      #expect(try operator_.read()?.status == 0)
      let answer = try #require(try operator_.read())
      #expect(answer.stream == 1 && answer.status == 0, "\(answer.message)")
      let web = try LeanTestClient(port: lean)
      web.send(
        LeanTestClient.hello(AccessTests.decideKey) + LeanTestClient.frame(stream: 1, method: method, message: request))
      #expect(try web.read()?.status == 0)
      #expect(try web.read()?.status == RPCError.Code.permissionDenied.rawValue)
      group.cancelAll()
    }
    let entries = server.audit.entries
    #expect(entries.map(\.door) == ["lean", "lean"])
    #expect(entries.map(\.who) == ["operator", "web-frontend"])
    #expect(entries.map(\.result) == ["OK", "PERMISSION_DENIED"])
    #expect(entries[0].target == version && entries[0].action == "arbiter.v1.AdminService/SetChallenger")
    #expect(try Self.lines(auditPath).count == 2)
  }
}
