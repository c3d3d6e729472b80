import ArbiterService
import Foundation
import Testing

/// The C gRPC load generator (tools/grpc-load, on nghttp2) built by its script and run briefly
/// against a live gRPC server: every call must succeed, and each Decide it counts must be a
/// decision the server logged.
@Suite struct GRPCLoadToolTests {
  @Test(.timeLimit(.minutes(5))) func grpcLoadDrivesDecideAndTheBaselineWithoutErrors() async throws {
    let build = try CClientTests.run("/bin/bash", [TestSupport.repoRoot + "/tools/grpc-load/build.sh"])
    #expect(build.status == 0, "\(build.error)")
    let tool = build.output.trimmingCharacters(in: .whitespacesAndNewlines)
    #expect(FileManager.default.isExecutableFile(atPath: tool))

    let server = try TestSupport.makeServer()
    let grpc = server.makeGRPCServer()
    try await withThrowingDiscardingTaskGroup { group in
      group.addTask { try await grpc.serve() }
      let address = try #require(try await grpc.listeningAddress?.ipv4)
      let common = [
        "--port", String(address.port), "--duration", "2", "--warmup", "1", "--connections", "2", "--first-customer", "100000",
        "--customers", "3000", "--server-pid", String(ProcessInfo.processInfo.processIdentifier),
      ]
      for (method, mode) in [("decide", ["--mode", "closed", "--concurrency", "8"]), ("noop", ["--mode", "open", "--rate", "500"])] {
        let before = server.live.log.counts.decisions
        let run = try CClientTests.run(tool, common + ["--method", method] + mode)
        #expect(run.status == 0, "\(run.error)")
        let line = run.output
        #expect(line.hasPrefix("grpc \(method) "), "\(line)")
        #expect(line.contains("errors 0,"), "\(line)")
        let rate = try #require(line.split(separator: ": ").dropFirst().first.flatMap { Double($0.split(separator: " ")[0]) })
        #expect(rate > 0, "\(line)")
        #expect(line.contains("p99 ") && line.contains("server CPU"), "\(line)")
        let decided = server.live.log.counts.decisions - before
        if method == "decide" {
          // The measured calls, at least, were decisions (warm-up ones add to them).
          #expect(Double(decided) >= rate * 2, "\(decided) decisions logged for \(line)")
        } else {
          #expect(decided == 0, "the baseline decides nothing")
          #expect(rate == 500, "open loop at 500/s for 2 s: \(line)")
        }
      }
      grpc.beginGracefulShutdown()
    }
  }
}
