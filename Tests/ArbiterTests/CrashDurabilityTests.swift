import ArbiterAPI
import ArbiterService
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// The `arbiter` server as a child process, killed with SIGKILL: no graceful shutdown, no flush.
final class ServerProcess: @unchecked Sendable {
  let process = Process()
  let port: Int

  init(storeDirectory: String, port: Int, interactionLog: String = "none") throws {
    let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(
      "arbiter")
    guard FileManager.default.isExecutableFile(atPath: binary.path) else {
      throw TestFailure(
        "the arbiter executable is not built next to the tests (\(binary.path)); run `swift build` first")
    }
    self.port = port
    process.executableURL = binary
    process.arguments = [
      "serve", "--port", "\(port)", "--lean-port", "0", "--http-port", "0", "--bundle", TestSupport.demoBundlePath,
      "--customers", "2000",
      "--store", storeDirectory,
      "--interaction-log", interactionLog, "--fsync", "10", "--snapshot-interval", "0", "--log-level", "warning",
      // Durability is tested here; credentials in ConfigurationFileTests and the access tests.
      "--auth", "off",
    ]
    process.standardOutput = FileHandle.nullDevice
    try process.run()
  }

  func kill9() {
    kill(process.processIdentifier, SIGKILL)
    process.waitUntilExit()
  }

  /// A test that fails before killing its server does not leave it running.
  deinit { if process.isRunning { kill9() } }

  /// A free loopback port.
  static func freePort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
    }
    _ = withUnsafeMutablePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    return Int(UInt16(bigEndian: address.sin_port))
  }
}

struct TestFailure: Error, CustomStringConvertible {
  var description: String
  init(_ description: String) { self.description = description }
}

/// Runs `body` with a client of the server on `port`, once it answers.
func withServerClient<T: Sendable>(
  port: Int, credential: String? = nil, _ body: @Sendable (GRPCClient<HTTP2ClientTransport.Posix>) async throws -> T
) async throws -> T {
  try await withGRPCClient(
    transport: .http2NIOPosix(target: .ipv4(address: "127.0.0.1", port: port), transportSecurity: .plaintext),
    interceptors: credential.map { [BearerCredentialInterceptor(credential: $0)] } ?? []
  ) { client in
    let health = Grpc_Health_V1_Health.Client(wrapping: client)
    var options = CallOptions.defaults
    options.waitForReady = true
    options.timeout = .seconds(120)
    _ = try await health.check(.init(), options: options)
    return try await body(client)
  }
}

let watched: [UInt64] = (0..<20).map { 100_000 + UInt64($0 * 97) }

func balances(port: Int) async throws -> [UInt64: Double] {
  try await withServerClient(port: port) { client in
    let profiles = Arbiter_V1_ProfileService.Client(wrapping: client)
    var result: [UInt64: Double] = [:]
    for id in watched {
      let profile = try await profiles.getProfile(.with { $0.customerID = id })
      result[id] = profile.featureValues[profile.featureNames.firstIndex(of: "checking_balance")!]
    }
    return result
  }
}

/// Every event is a 1.00 card payment by one of the watched customers: each one applied lowers
/// the sum of their balances by exactly 1.
func eventBatch(_ b: Int, size: Int) -> Arbiter_V1_EventBatch {
  .with {
    $0.events = (0..<size).map { i in
      .with {
        $0.customerID = watched[(b * size + i) % watched.count]
        $0.kind = .transaction
        $0.transactionChannel = .card
        $0.amount = -1
      }
    }
  }
}

@Suite(.serialized) struct CrashDurabilityTests {
  @Test(.timeLimit(.minutes(5))) func acknowledgedEventsSurviveKill9() async throws {
    let directory = try TestSupport.temporaryDirectory() + "/store"
    let port = ServerProcess.freePort()
    var server = try ServerProcess(storeDirectory: directory, port: port)
    let before = try await balances(port: port)

    // 1. Send 10,000 events, take every acknowledgement, then kill -9 at once.
    let acked = try await withServerClient(port: port) { client in
      try await Arbiter_V1_ProfileService.Client(wrapping: client).ingestEvents(
        requestProducer: { writer in for b in 0..<40 { try await writer.write(eventBatch(b, size: 250)) } },
        onResponse: { response in
          var total: UInt64 = 0
          for try await ack in response.messages { total = ack.totalAccepted }
          return total
        })
    }
    #expect(acked == 10_000)
    server.kill9()

    server = try ServerProcess(storeDirectory: directory, port: port)
    let afterFirst = try await balances(port: port)
    let present = watched.reduce(0.0) { $0 + (before[$1]! - afterFirst[$1]!) }
    #expect(present == Double(acked), "events present after kill -9 must equal the events acknowledged")

    // 2. Kill -9 in the middle of a stream: nothing acknowledged may be lost.
    let progress = Progress()
    let stream = Task {
      try await withServerClient(port: port) { client in
        try await Arbiter_V1_ProfileService.Client(wrapping: client).ingestEvents(
          requestProducer: { writer in
            for b in 0..<100_000 {
              try await writer.write(eventBatch(b, size: 100))
              progress.sent(100)
            }
          },
          onResponse: { response in for try await ack in response.messages { progress.acked(ack.totalAccepted) } })
      }
    }
    while progress.ackedCount < 5_000 { try await Task.sleep(for: .milliseconds(5)) }
    server.kill9()
    let ackedAtKill = progress.ackedCount
    let sentAtKill = progress.sentCount
    _ = try? await stream.value
    server = try ServerProcess(storeDirectory: directory, port: port)
    let afterSecond = try await balances(port: port)
    let presentSecond = watched.reduce(0.0) { $0 + (afterFirst[$1]! - afterSecond[$1]!) }
    #expect(presentSecond >= Double(ackedAtKill), "acknowledged \(ackedAtKill), present \(presentSecond)")
    #expect(presentSecond <= Double(sentAtKill), "sent \(sentAtKill), present \(presentSecond)")
    server.kill9()
  }
}

@Suite(.serialized) struct DecisionLogCrashTests {
  /// A decision answered by a server killed with SIGKILL a second later: its line reached the
  /// log (written every 0.2 s), so the restarted server accepts its outcome and its contact
  /// policy remembers it.
  @Test(.timeLimit(.minutes(5))) func aDecisionSurvivesKill9ForItsOutcome() async throws {
    let directory = try TestSupport.temporaryDirectory()
    let log = directory + "/interactions.jsonl"
    let port = ServerProcess.freePort()
    var server = try ServerProcess(storeDirectory: directory + "/store", port: port, interactionLog: log)
    let request = Arbiter_V1_DecideRequest.with {
      $0.customerID = 100_042
      $0.channel = .web
      $0.maxOffers = 3
    }
    let made = try await withServerClient(port: port) { client in
      try await Arbiter_V1_DecisionService.Client(wrapping: client).decide(request)
    }
    let declined = try #require(made.offers.first).offerID
    try await Task.sleep(for: .seconds(1))
    server.kill9()
    #expect(try String(contentsOfFile: log, encoding: .utf8).contains("\"decision_id\":\"\(made.decisionID)\""))

    server = try ServerProcess(storeDirectory: directory + "/store", port: port, interactionLog: log)
    let (recorded, after) = try await withServerClient(port: port) { client in
      let decisions = Arbiter_V1_DecisionService.Client(wrapping: client)
      let recorded = try await decisions.recordOutcomes(
        .with {
          $0.outcomes = [
            .with {
              $0.decisionID = made.decisionID
              $0.offerID = declined
              $0.outcome = .decline
            }
          ]
        })
      return (recorded.recorded, try await decisions.decide(request))
    }
    #expect(recorded == 1)
    #expect(!after.offers.isEmpty && !after.offers.map(\.offerID).contains(declined))
    server.kill9()
  }
}

/// Counters shared by the sending and acknowledging sides of a stream.
final class Progress: @unchecked Sendable {
  private let lock = NSLock()
  private var sent: UInt64 = 0
  private var acknowledged: UInt64 = 0
  func sent(_ n: UInt64) { lock.withLock { sent += n } }
  func acked(_ total: UInt64) { lock.withLock { acknowledged = total } }
  var sentCount: UInt64 { lock.withLock { sent } }
  var ackedCount: UInt64 { lock.withLock { acknowledged } }
}
