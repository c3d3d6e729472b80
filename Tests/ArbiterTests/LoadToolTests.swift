import ArbiterServer
import ArbiterService
import Foundation
import Testing

/// The C load generator (tools/load: gRPC on nghttp2, and the lean protocol) built by its script
/// and run briefly against a live server over both protocols: every call must succeed, and each
/// Decide it counts must be a decision the server logged.
@Suite struct LoadToolTests {
  /// Runs the tool on a thread of its own: waiting for it on a cooperative thread could starve
  /// the in-process gRPC server, whose handlers need the Swift concurrency pool.
  static func runOffThePool(
    _ executable: String, _ arguments: [String]
  ) async throws -> (status: Int32, output: String, error: String) {
    try await withCheckedThrowingContinuation { continuation in
      Thread { continuation.resume(with: Result { try CClientTests.run(executable, arguments) }) }.start()
    }
  }

  @Test(.timeLimit(.minutes(5))) func arbiterLoadDrivesDecideAndTheBaselineOverBothProtocols()
    async throws
  {
    let build = try CClientTests.run("/bin/bash", [TestSupport.repoRoot + "/tools/load/build.sh"])
    #expect(build.status == 0, "\(build.error)")
    let tool = build.output.trimmingCharacters(in: .whitespacesAndNewlines)
    #expect(FileManager.default.isExecutableFile(atPath: tool))

    // This tests the generator's accounting, not shedding: a debug server under the whole suite
    // can be slower than 500 calls a second, and must then queue them rather than shed them.
    let server = try TestSupport.makeServer {
      $0.grpc.connections.maxInFlight = 1_000_000
      $0.lean.connections.maxInFlight = 1_000_000
    }
    let grpc = server.makeGRPCServer()
    try await withThrowingDiscardingTaskGroup { group in
      group.addTask { try await grpc.serve() }
      try await withThrowingTaskGroup(of: Void.self) { leanGroup in
        leanGroup.addTask { try await server.runLeanServer(port: 0) }
        let address = try #require(try await grpc.listeningAddress?.ipv4)
        let lean = try await TestSupport.leanPort(of: server)
        let common = [
          "--duration", "2", "--warmup", "1", "--connections", "2", "--first-customer", "100000",
          "--customers", "3000", "--server-pid", String(ProcessInfo.processInfo.processIdentifier),
        ]
        let runs = [
          ("grpc", address.port, "decide", ["--mode", "closed", "--concurrency", "8"]),
          ("grpc", address.port, "noop", ["--mode", "open", "--rate", "500"]),
          ("lean", lean, "decide", ["--mode", "open", "--rate", "500"]),
          ("lean", lean, "noop", ["--mode", "closed", "--concurrency", "8"]),
        ]
        for (transport, port, method, mode) in runs {
          var before = server.live.log.counts.decisions
          var run = try await Self.runOffThePool(
            tool,
            common + ["--transport", transport, "--port", String(port), "--method", method] + mode)
          // Other suites run beside this one in the same process and can hold both of the Swift
          // pool's threads (which the in-process gRPC server's handlers need) for seconds: a run in
          // which no call completed and none failed is run again, up to twice.
          for _ in 0..<2 where run.output.contains(": 0 req/s") && run.output.contains("errors 0,") {
            before = server.live.log.counts.decisions
            run = try await Self.runOffThePool(
              tool,
              common + ["--transport", transport, "--port", String(port), "--method", method] + mode)
          }
          #expect(run.status == 0, "\(run.error)")
          let line = run.output
          #expect(line.hasPrefix("\(transport) \(method) "), "\(line)")
          #expect(line.contains("errors 0,"), "\(line)")
          let rate = try #require(
            line.split(separator: ": ").dropFirst().first.flatMap {
              Double($0.split(separator: " ")[0])
            })
          #expect(rate > 0, "\(line)")
          #expect(line.contains("p99 ") && line.contains("server CPU"), "\(line)")
          let decided = server.live.log.counts.decisions - before
          if method == "decide" {
            // The measured calls, at least, were decisions (warm-up ones add to them).
            #expect(Double(decided) >= rate * 2, "\(decided) decisions logged for \(line)")
          } else {
            #expect(decided == 0, "the baseline decides nothing")
          }
          if mode.contains("open") { #expect(rate == 500, "open loop at 500/s for 2 s: \(line)") }
        }
        leanGroup.cancelAll()
      }
      grpc.beginGracefulShutdown()
    }
  }
}
