import ArbiterAPI
import ArbiterCore
import ArbiterFeatureStore
import ArbiterModels
import ArgumentParser
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2

/// Benchmarks of the feature store (see BENCHMARKS.md and tools/bench-store.sh).
struct StoreBench: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "store-bench", abstract: "Benchmarks of the customer feature store.",
    subcommands: [Lookups.self, Ingest.self, Verify.self])

  /// Percentiles of sorted nanosecond samples.
  static func percentiles(_ sorted: [UInt64]) -> String {
    func p(_ q: Double) -> String {
      let value = Double(sorted[min(sorted.count - 1, Int(q * Double(sorted.count)))])
      return value < 10_000 ? "\(Int(value)) ns" : String(format: "%.1f µs", value / 1000)
    }
    return "p50 \(p(0.5)), p90 \(p(0.9)), p99 \(p(0.99)), p99.9 \(p(0.999)), max \(p(0.999999))"
  }

  struct Lookups: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Open a store (snapshot + log) and time random point lookups of whole vectors, one by one.")

    @Option(help: "Feature store directory (stop the server first).") var store = "arbiter-data/store"
    @Option(help: "Bundle whose schema the store uses.") var bundle = "models/demo"
    @Option(help: "Number of timed lookups.") var lookups = 2_000_000

    func run() throws {
      let loaded = try failing { try ModelBundle.load(from: bundle) }
      let opened = DispatchTime.now().uptimeNanoseconds
      let target = try failing { try FeatureStore.open(directory: store, schema: loaded.schema, policy: .always) }
      let openSeconds = Double(DispatchTime.now().uptimeNanoseconds - opened) / 1e9
      defer { target.close() }
      print(
        "opened \(target.count) customers × \(target.width) features in \(String(format: "%.2f", openSeconds)) s "
          + "(\(target.replayReport))"
      )
      let ids = target.customerIds()
      var rng = SeededGenerator(seed: 1)
      var picks = (0..<lookups).map { _ in ids[rng.below(ids.count)] }
      let now = FeatureStore.nowDays
      var checksum: Float = 0
      var rowSum = 0
      /// Times `body` once per pick, one by one; returns sorted nanoseconds.
      func timed(_ body: (UInt64, UnsafeMutableBufferPointer<Float>) -> Void) -> [UInt64] {
        var samples = [UInt64](repeating: 0, count: lookups)
        withUnsafeTemporaryAllocation(of: Float.self, capacity: target.width) { buffer in
          for (i, id) in picks.enumerated() {
            let start = DispatchTime.now().uptimeNanoseconds
            body(id, buffer)
            samples[i] = DispatchTime.now().uptimeNanoseconds - start
            checksum += buffer[0]
          }
        }
        return samples.sorted()
      }
      // Each pass runs over a different random order, so no pass warms the caches for the next.
      let indexOnly = timed { id, _ in rowSum &+= target.row(of: id) ?? 0 }
      picks.shuffle(using: &rng)
      let copy = timed { id, buffer in
        if let row = target.row(of: id) { target.readStored(row: row, into: buffer.baseAddress!) }
      }
      picks.shuffle(using: &rng)
      let decisionRead = timed { id, buffer in
        if let row = target.row(of: id) { target.read(row: row, into: buffer, nowDays: now) }
      }
      // The cost of reading the clock twice, measured the same way, for reference.
      var empty = [UInt64](repeating: 0, count: 100_000)
      for i in empty.indices {
        let start = DispatchTime.now().uptimeNanoseconds
        empty[i] = DispatchTime.now().uptimeNanoseconds - start
      }
      print("\(lookups) random ids across the store, timed one by one, single thread:")
      print("  id → row (index probe):                          \(StoreBench.percentiles(indexOnly))")
      print("  point lookup: id → row + consistent vector copy:  \(StoreBench.percentiles(copy))")
      print("  ... + read transforms (decay, recency, triggers): \(StoreBench.percentiles(decisionRead))")
      print(
        "  the timer alone:                                  \(StoreBench.percentiles(empty.sorted()))"
          + "  (checksums \(checksum) \(rowSum))"
      )
      print("resident memory: \(residentMegabytes()) MB")
    }
  }

  struct Ingest: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Stream events to a running server over gRPC (IngestEvents) and report acknowledged events per second.",
      discussion:
        "Every event is a 1.00 card payment by one of --watch customers; their balances are saved to --state so that "
        + "`verify` can count, after a crash, how many events the store holds."
    )

    @OptionGroup var server: ServerOptions
    @Option(help: "Events to send.") var events = 2_000_000
    @Option(help: "Events per batch.") var batch = 1_000
    @Option(help: "Concurrent streams (connections).") var streams = 2
    @Option(help: "How many customers the events touch.") var watch = 1_000
    @Option(help: "File to save the watched customers' balances in.") var state = "ingest-state.json"

    func run() async throws {
      let status = try await server.withClient { client in
        try await Arbiter_V1_AdminService.Client(wrapping: client).getStatus(.init())
      }
      _ = status
      let watched = (0..<watch).map { 100_000 + UInt64($0) * 7 }
      let before = try await StoreBench.balances(server, watched)
      try JSONEncoder().encode(Saved(watched: watched, balances: watched.map { before[$0]! }, acknowledged: 0)).write(
        to: URL(fileURLWithPath: state))
      let perStream = events / streams
      let batchSize = batch
      let started = DispatchTime.now().uptimeNanoseconds
      let interceptors = try server.credentials.interceptors()
      let acknowledged = try await withThrowingTaskGroup(of: UInt64.self) { group in
        for s in 0..<streams {
          group.addTask {
            try await withGRPCClient(
              transport: .http2NIOPosix(
                target: .ipv4(address: server.host, port: server.port), transportSecurity: .plaintext),
              interceptors: interceptors
            ) { client in
              try await Arbiter_V1_ProfileService.Client(wrapping: client).ingestEvents(
                requestProducer: { writer in
                  var sent = 0
                  var b = s
                  while sent < perStream {
                    let n = min(batchSize, perStream - sent)
                    try await writer.write(
                      .with {
                        $0.events = (0..<n).map { i in
                          .with {
                            $0.customerID = watched[(b * batchSize + i) % watched.count]
                            $0.kind = .transaction
                            $0.transactionChannel = .card
                            $0.amount = -1
                          }
                        }
                      })
                    sent += n
                    b += streams
                  }
                },
                onResponse: { response in
                  var total: UInt64 = 0
                  for try await ack in response.messages { total = ack.totalAccepted }
                  return total
                })
            }
          }
        }
        return try await group.reduce(0, +)
      }
      let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
      try JSONEncoder().encode(
        Saved(watched: watched, balances: watched.map { before[$0]! }, acknowledged: acknowledged)
      ).write(to: URL(fileURLWithPath: state))
      print(
        "\(acknowledged) events acknowledged in \(String(format: "%.2f", seconds)) s: "
          + "\(Int(Double(acknowledged) / seconds)) events/s (\(streams) streams, batches of \(batch))"
      )
    }
  }

  struct Verify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Count the events the store holds against what `ingest` had acknowledged.")

    @OptionGroup var server: ServerOptions
    @Option(help: "File written by `ingest`.") var state = "ingest-state.json"

    func run() async throws {
      let saved = try JSONDecoder().decode(Saved.self, from: Data(contentsOf: URL(fileURLWithPath: state)))
      let now = try await StoreBench.balances(server, saved.watched)
      let present = zip(saved.watched, saved.balances).reduce(0.0) { $0 + ($1.1 - now[$1.0]!) }
      print("acknowledged \(saved.acknowledged), present \(Int(present))")
      guard UInt64(present) == saved.acknowledged else {
        print("MISMATCH")
        throw ExitCode(1)
      }
      print("equal")
    }
  }

  struct Saved: Codable {
    var watched: [UInt64]
    var balances: [Double]
    var acknowledged: UInt64
  }

  static func balances(_ server: ServerOptions, _ ids: [UInt64]) async throws -> [UInt64: Double] {
    try await server.withClient { client in
      let profiles = Arbiter_V1_ProfileService.Client(wrapping: client)
      var result: [UInt64: Double] = [:]
      for id in ids {
        let profile = try await profiles.getProfile(.with { $0.customerID = id })
        result[id] = profile.featureValues[profile.featureNames.firstIndex(of: "checking_balance")!]
      }
      return result
    }
  }
}

/// This process's resident set size, from /proc.
func residentMegabytes() -> Int {
  guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
    let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
    let kb = Int(line.split(separator: " ").dropFirst().first ?? "")
  else { return -1 }
  return kb / 1024
}
