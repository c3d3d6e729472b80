import ArbiterAPI
import ArbiterCore
import ArbiterServer
import Foundation
import GRPCCore
import Testing

/// The server's configuration: nested values with defaults, a YAML file that sets any of them
/// (refusing unknown keys and bad values by line and key), and flags over the file.
@Suite struct ConfigurationFileTests {
  @Test func aFileSetsEveryPart() throws {
    let yaml = """
      host: 0.0.0.0
      grpc: {port: 6000}
      lean:
        port: off
        max-frame-size: 65536
      bundle: {path: /srv/bundles/bank, watch-interval: 30s}
      store:
        directory: none
        fsync: always
        snapshot-interval: 15m
        customers: 2_000
        max-event-skew: 90s
      interaction-log:
        path: /var/log/arbiter.jsonl
        flush-interval: 50ms
        decision-memory: 5000
        offer-memory: 60000
        history-memory: 20000
        decline-reason-memory: 1024
        max-outcome-skew: 2m
      pacing: {checkpoint-interval: off}
      """
    let config = try ArbiterConfiguration.parse(yaml, file: "arbiter.yaml")
    #expect(config.host == "0.0.0.0" && config.grpc.port == 6000)
    #expect(config.lean.port == nil && config.lean.maxFrameSize == 65_536)
    #expect(config.bundle.path == "/srv/bundles/bank" && config.bundle.watchInterval == .seconds(30))
    #expect(
      config.store.directory == nil && config.store.fsync == .always && config.store.snapshotInterval == .seconds(900))
    #expect(config.store.customers == 2_000 && config.store.maxEventSkew == .seconds(90))
    let log = config.interactionLog
    #expect(log.path == "/var/log/arbiter.jsonl" && log.flushInterval == .milliseconds(50))
    #expect(log.decisionMemory == 5_000 && log.offerMemory == 60_000 && log.historyMemory == 20_000)
    #expect(log.declineReasonMemory == 1_024 && log.maxOutcomeSkew == .seconds(120))
    #expect(config.pacing.checkpointInterval == nil)
    // What the file leaves out keeps its default; an empty file changes nothing.
    let partial = try ArbiterConfiguration.parse("store: {customers: 10}", file: "a.yaml")
    #expect(
      partial.store.customers == 10 && partial.store.directory == "arbiter-data/store" && partial.grpc.port == 50051)
    #expect(try ArbiterConfiguration.parse("", file: "a.yaml").lean.port == 50052)
  }

  @Test(arguments: [
    (
      "store:\n  fsyncc: 10ms\n",
      "arbiter.yaml line 2, store.fsyncc: unknown key (known here: customers, directory, fsync"
    ),
    ("grpc: {port: 70000}\n", "arbiter.yaml line 1, grpc.port: must be a port number (0 picks a free one), got 70000"),
    ("lean:\n  port: fifty\n", "arbiter.yaml line 2, lean.port: must be a whole number of at least 0, got 'fifty'"),
    (
      "bundle: {watch-interval: soon}\n",
      "bundle.watch-interval: must be a duration like 250ms, 30s, 5m or 2h, got 'soon'"
    ),
    (
      "store: {fsync: sometimes}\n",
      "store.fsync: must be 'always' or a number of milliseconds like 10ms, got 'sometimes'"
    ),
    (
      "interaction-log: {decision-memory: 0}\n",
      "interaction-log.decision-memory: must be a whole number of at least 1, got '0'"
    ),
    ("pacing: 5\n", "arbiter.yaml line 1, pacing: must be a mapping of keys to values"),
    ("metrics: {port: 9090}\n", "arbiter.yaml line 1, metrics: unknown key (known here: access, adaptive, bundle, grpc, host"),
    ("store: [a, b\n", "arbiter.yaml: not YAML"),
  ])
  func badFilesAreRefusedNamingLineAndKey(yaml: String, message: String) {
    do {
      _ = try ArbiterConfiguration.parse(yaml, file: "arbiter.yaml")
      Issue.record("accepted: \(yaml)")
    } catch {
      #expect(error.code == .invalidArgument && error.message.contains(message), "\(error.message)")
    }
  }

  @Test func aMissingFileIsNamed() {
    #expect(throws: ArbiterError.self) { try ArbiterConfiguration.load(file: "/nonexistent/arbiter.yaml") }
  }

  /// The real executable: the file sets the ports and the store, a flag overrides one of them.
  /// Credentials are required by default: on first start the server makes an admin token and a
  /// site key in its data directory (readable by their owner only), calls without one are
  /// UNAUTHENTICATED, the site key may only decide, and a restart keeps the same token.
  @Test(.timeLimit(.minutes(3))) func flagsOverrideTheFile() async throws {
    let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(
      "arbiter")
    guard FileManager.default.isExecutableFile(atPath: binary.path) else {
      throw TestFailure(
        "the arbiter executable is not built next to the tests (\(binary.path)); run `swift build` first")
    }
    let directory = try TestSupport.temporaryDirectory()
    let filePort = ServerProcess.freePort(), flagPort = ServerProcess.freePort()
    let yaml = """
      grpc: {port: \(filePort)}
      lean: {port: off}
      bundle: {path: \(TestSupport.demoBundlePath), watch-interval: off}
      store: {directory: none, customers: 1500}
      interaction-log: {path: none}
      """
    try yaml.write(toFile: directory + "/arbiter.yaml", atomically: true, encoding: .utf8)
    let process = Process()
    process.executableURL = binary
    process.arguments = [
      "serve", "--config", directory + "/arbiter.yaml", "--port", "\(flagPort)", "--http-port", "0", "--log-level",
      "notice",
    ]
    process.standardOutput = FileHandle.nullDevice
    let started = Pipe()
    process.standardError = started
    // The data directory (arbiter-data/) is relative to where the server runs.
    process.currentDirectoryURL = URL(fileURLWithPath: directory)
    try process.run()
    defer {
      if process.isRunning {
        process.terminate()
        process.waitUntilExit()
      }
    }
    let unchecked = try await withServerClient(port: flagPort) { client in
      do {
        _ = try await Arbiter_V1_AdminService.Client(wrapping: client).getStatus(.init())
        return nil as RPCError?
      } catch let error as RPCError { return error }
    }
    #expect(unchecked?.code == .unauthenticated, "a call without a credential is refused")
    let tokenPath = directory + "/arbiter-data/admin-token", siteKeyPath = directory + "/arbiter-data/site-key"
    let token = try String(contentsOfFile: tokenPath, encoding: .utf8).trimmingCharacters(in: .newlines)
    let siteKey = try String(contentsOfFile: siteKeyPath, encoding: .utf8).trimmingCharacters(in: .newlines)
    #expect(token.count == 43 && siteKey.count == 43 && token != siteKey, "32 random bytes in base64url each")
    for path in [tokenPath, siteKeyPath] {
      let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
      #expect(mode == 0o600, "\(path) is readable by its owner only")
    }
    let status = try await withServerClient(port: flagPort, credential: token) { client in
      try await Arbiter_V1_AdminService.Client(wrapping: client).getStatus(.init())
    }
    #expect(status.customers == 1_500)
    let denied = try await withServerClient(port: flagPort, credential: siteKey) { client in
      do {
        _ = try await Arbiter_V1_AdminService.Client(wrapping: client).getStatus(.init())
        return nil as RPCError?
      } catch let error as RPCError { return error }
    }
    #expect(denied?.code == .permissionDenied && denied?.message.contains("needs the role admin") == true)
    process.terminate()
    process.waitUntilExit()
    let log = String(decoding: started.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    #expect(log.contains("made a new admin token in arbiter-data/admin-token"), "the server says where: \(log)")

    // Restarted, it reads the same token back.
    let again = Process()
    again.executableURL = binary
    again.arguments = process.arguments
    again.currentDirectoryURL = URL(fileURLWithPath: directory)
    again.standardOutput = FileHandle.nullDevice
    again.standardError = FileHandle.nullDevice
    try again.run()
    defer {
      again.terminate()
      again.waitUntilExit()
    }
    let restarted = try await withServerClient(port: flagPort, credential: token) { client in
      try await Arbiter_V1_AdminService.Client(wrapping: client).getStatus(.init())
    }
    #expect(restarted.customers == 1_500)
    #expect(try String(contentsOfFile: tokenPath, encoding: .utf8).trimmingCharacters(in: .newlines) == token)

    // Beyond loopback without credentials: refused, saying how to require them.
    let open = Process()
    open.executableURL = binary
    open.arguments = ["serve", "--config", directory + "/arbiter.yaml", "--host", "0.0.0.0", "--auth", "off"]
    let openErrors = Pipe()
    open.standardError = openErrors
    open.standardOutput = FileHandle.nullDevice
    try open.run()
    open.waitUntilExit()
    let refusal = String(decoding: openErrors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    #expect(open.terminationStatus == 2)
    #expect(refusal.contains("refusing to serve on 0.0.0.0 without credentials"), "\(refusal)")
    #expect(refusal.contains("access.required: true"))

    // A bad file stops the server before it starts, naming the problem.
    try "store: {customers: -5}\n".write(toFile: directory + "/bad.yaml", atomically: true, encoding: .utf8)
    let bad = Process()
    bad.executableURL = binary
    bad.arguments = ["serve", "--config", directory + "/bad.yaml"]
    let errors = Pipe()
    bad.standardError = errors
    try bad.run()
    bad.waitUntilExit()
    let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    #expect(bad.terminationStatus == 2)
    #expect(
      text.contains("bad.yaml line 1, store.customers: must be a whole number of at least 1, got '-5'"), "\(text)")
  }
}
