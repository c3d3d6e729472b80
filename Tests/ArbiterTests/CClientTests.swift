import ArbiterServer
import ArbiterService
import Foundation
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// The C client (tools/c-client, on libprotobuf-c) built by its script and run against a live
/// lean-protocol server: decide, record the outcome, a precise status, and a client-side deadline.
@Suite struct CClientTests {
  /// Runs `executable`, in `directory` when given, with the environment's ARBITER_TOKEN variables
  /// replaced by `environment`'s.
  static func run(
    _ executable: String, _ arguments: [String], in directory: String? = nil, environment: [String: String] = [:]
  ) throws -> (status: Int32, output: String, error: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    var inherited = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("ARBITER_TOKEN") }
    inherited.merge(environment) { $1 }
    process.environment = inherited
    if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let output = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    let error = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    return (process.terminationStatus, output, error)
  }

  @Test(.timeLimit(.minutes(5))) func cClientDecidesAndRecordsOverTheLeanProtocol() async throws {
    let build = try Self.run("/bin/bash", [TestSupport.repoRoot + "/tools/c-client/build.sh"])
    #expect(build.status == 0, "\(build.error)")
    let tool = build.output.trimmingCharacters(in: .whitespacesAndNewlines)
    #expect(FileManager.default.isExecutableFile(atPath: tool))

    let server = try TestSupport.makeServer()
    try await withThrowingTaskGroup(of: Void.self) { group in
      group.addTask { try await server.runLeanServer(port: 0) }
      let lean = String(try await TestSupport.leanPort(of: server))
      let decided = try Self.run(
        tool,
        ["--port", lean, "--timeout-ms", "5000", "decide", "--customer", "100042", "--channel", "web", "--max", "3"])
      #expect(decided.status == 0, "\(decided.error)")
      let lines = decided.output.split(separator: "\n")
      let header = try #require(lines.first)
      #expect(header.hasPrefix("decision ") && header.contains("for customer 100042 on web"))
      let decisionId = String(header.split(separator: " ")[1])
      let first = try #require(lines.first { $0.hasPrefix("1. ") })
      let offerId = String(first.split(separator: " ")[1])
      #expect(
        server.live.log.recent(customerId: 100_042, limit: 5).contains {
          $0.decisionId == decisionId && $0.offerId == offerId
        })

      let recorded = try Self.run(
        tool, ["--port", lean, "outcome", "--decision", decisionId, "--offer", offerId, "--outcome", "accept"])
      #expect(recorded.status == 0 && recorded.output == "recorded 1\n", "\(recorded.error)")
      #expect(server.live.log.recent(customerId: 100_042, limit: 1).first?.outcome == .accept)

      let unknown = try Self.run(tool, ["--port", lean, "decide", "--customer", "5"])
      #expect(unknown.status == 5 && unknown.error.contains("customer 5 not found"))
      let usage = try Self.run(tool, ["--port", lean, "decide", "--customer", "100042", "--channel", "fax"])
      #expect(usage.status == 2)
      group.cancelAll()
    }

    // A server that accepts and never answers: the client gives up at its deadline.
    let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, length) }
    }
    listen(listener, 4)
    _ = withUnsafeMutablePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) }
    }
    defer { close(listener) }
    let silentPort = String(UInt16(bigEndian: address.sin_port))
    let started = Date()
    let late = try Self.run(tool, ["--port", silentPort, "--timeout-ms", "300", "decide", "--customer", "100042"])
    #expect(late.status == 4 && late.error.contains("deadline exceeded"), "\(late.error)")
    #expect(Date().timeIntervalSince(started) < 5)
  }

  /// With credentials required: the client sends its hello with --token, $ARBITER_TOKEN, or the
  /// admin token in arbiter-data/admin-token of the directory it runs in; without any, or with a
  /// wrong one, the server's refusal is what it says.
  @Test(.timeLimit(.minutes(5))) func cClientSendsItsCredentialInTheHello() async throws {
    let build = try Self.run("/bin/bash", [TestSupport.repoRoot + "/tools/c-client/build.sh"])
    #expect(build.status == 0, "\(build.error)")
    let tool = build.output.trimmingCharacters(in: .whitespacesAndNewlines)
    let empty = try TestSupport.temporaryDirectory()
    let withToken = try TestSupport.temporaryDirectory()
    try FileManager.default.createDirectory(atPath: withToken + "/arbiter-data", withIntermediateDirectories: true)
    try (AccessTests.adminKey + "\n").write(
      toFile: withToken + "/arbiter-data/admin-token", atomically: true, encoding: .utf8)

    let server = try TestSupport.makeServer { $0.access = AccessTests.configuration() }
    try await withThrowingTaskGroup(of: Void.self) { group in
      group.addTask { try await server.runLeanServer(port: 0) }
      let lean = String(try await TestSupport.leanPort(of: server))
      let decide = ["--port", lean, "decide", "--customer", "100042"]
      let none = try Self.run(tool, decide, in: empty)
      #expect(none.status == 16 && none.error.contains("no credentials"), "\(none.error)")
      let wrong = try Self.run(tool, ["--token", "not-a-key-of-this-server"] + decide, in: empty)
      #expect(wrong.status == 16, "\(wrong.error)")
      #expect(
        wrong.error.contains("the server refused the credential: status 16: the API key is not one this server knows"))
      let given = try Self.run(tool, ["--token", AccessTests.decideKey] + decide, in: empty)
      #expect(given.status == 0 && given.output.hasPrefix("decision "), "\(given.error)")
      let fromEnvironment = try Self.run(tool, decide, in: empty, environment: ["ARBITER_TOKEN": AccessTests.decideKey])
      #expect(fromEnvironment.status == 0, "\(fromEnvironment.error)")
      let fromDataDirectory = try Self.run(tool, decide, in: withToken)
      #expect(fromDataDirectory.status == 0, "\(fromDataDirectory.error)")
      let missingFile = try Self.run(tool, decide, in: empty, environment: ["ARBITER_TOKEN_FILE": empty + "/nothing"])
      #expect(missingFile.status == 2 && missingFile.error.contains("cannot read ARBITER_TOKEN_FILE"))
      group.cancelAll()
    }
  }
}
