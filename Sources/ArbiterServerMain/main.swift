import ArbiterCore
import ArbiterDemoBank
import ArbiterFeatureStore
import ArbiterServer
import ArgumentParser
import Foundation
import Logging

/// `arbiter`: the decision server.
@main
struct Arbiter: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "arbiter", abstract: "Arbiter, the real-time next-best-offer decision server.",
    subcommands: [Serve.self], defaultSubcommand: Serve.self)
}

struct Serve: AsyncParsableCommand {
  static let configuration = CommandConfiguration(abstract: "Load a model bundle and its customers, and serve decisions over gRPC.")

  @Option(help: "Host to bind.") var host = "127.0.0.1"
  @Option(help: "gRPC port (0 picks a free one).") var port = 50051
  @Option(help: "Lean-protocol port (0 picks a free one; 'off' serves gRPC only).") var leanPort = "50052"
  @Option(help: "Largest lean-protocol frame accepted, in bytes.") var maxFrameSize = 4 * 1024 * 1024
  @Option(help: "Bundle directory: a version directory or a root whose newest version is loaded.") var bundle = "models/demo"
  @Option(help: "Number of demo customers to build (default: as the bundle says).") var customers: Int?
  @Option(help: "Interaction log file (JSON lines); 'none' keeps it in memory.") var interactionLog = "arbiter-data/interactions.jsonl"
  @Option(help: "Feature store directory (snapshot and update log); 'none' keeps customers in memory only.") var store = "arbiter-data/store"
  @Option(help: "When the update log is forced to disk: 'always' or a number of milliseconds (group commit).") var fsync = "10"
  @Option(help: "How far ahead of the server clock an event may be dated (e.g. 5m, 30s, 1h); later ones are refused.")
  var maxEventSkew = "5m"
  @Option(help: "Seconds between background snapshots of the feature store (0: never).") var snapshotInterval: Double = 600
  @Option(help: "Seconds between looks for a newer bundle version under --bundle (0: never).") var bundleWatch: Double = 5
  @Option(help: "Log level: trace, debug, info, notice, warning, error.") var logLevel = "info"
  @Option(help: "Offers and outcomes kept for the contact policy, all customers together (40 bytes each).") var historyMemory = 4_000_000
  @Option(help: "Recent decisions outcomes may refer to (about 40 bytes each).") var decisionMemory = 1_000_000
  @Option(help: "Offers of those decisions held, 4 bytes each (default: eight per decision).") var offerMemory: Int?
  @Option(help: "Seconds between writes of buffered decision lines to the interaction log (0: only when 64 KiB are buffered).") var logFlush: Double = 0.2

  func run() async throws {
    guard let level = Logger.Level(rawValue: logLevel) else { throw ValidationError("unknown log level '\(logLevel)'") }
    LoggingSystem.bootstrap { label in
      var handler = StreamLogHandler.standardError(label: label)
      handler.logLevel = level
      return handler
    }
    let logger = Logger(label: "arbiter")
    var config = ArbiterConfiguration()
    config.host = host
    config.grpcPort = port
    if leanPort == "off" {
      config.leanPort = nil
    } else {
      guard let lean = Int(leanPort), (0...65_535).contains(lean) else { throw ValidationError("--lean-port must be a port number or 'off', got '\(leanPort)'") }
      config.leanPort = lean
    }
    guard maxFrameSize >= 1024 else { throw ValidationError("--max-frame-size must be at least 1024 bytes") }
    config.maxFrameSize = maxFrameSize
    guard historyMemory >= 1 else { throw ValidationError("--history-memory must be at least 1") }
    config.historyMemory = historyMemory
    guard decisionMemory >= 1 else { throw ValidationError("--decision-memory must be at least 1") }
    config.decisionMemory = decisionMemory
    if let offerMemory, offerMemory < 1 { throw ValidationError("--offer-memory must be at least 1") }
    config.offerMemory = offerMemory
    config.bundlePath = bundle
    config.customers = customers
    config.interactionLogPath = interactionLog == "none" ? nil : interactionLog
    config.storeDirectory = store == "none" ? nil : store
    guard let policy = FsyncPolicy(fsync) else { throw ValidationError("--fsync must be 'always' or a positive number of milliseconds, got '\(fsync)'") }
    config.fsyncPolicy = policy
    guard let skew = DurationText.parse(maxEventSkew) else {
      throw ValidationError("--max-event-skew must be a whole number of ms, s, m or h (e.g. 5m), got '\(maxEventSkew)'")
    }
    config.maxEventSkew = skew
    config.snapshotIntervalSeconds = snapshotInterval > 0 ? snapshotInterval : nil
    config.bundleWatchSeconds = bundleWatch > 0 ? bundleWatch : nil
    guard logFlush.isFinite, logFlush >= 0 else { throw ValidationError("--log-flush must be a number of seconds >= 0") }
    config.logFlushSeconds = logFlush > 0 ? logFlush : nil
    let server: ArbiterServer
    do {
      server = try ArbiterServer(
        configuration: config, logger: logger,
        seedingEmptyStore: { [config] store, bundle throws(ArbiterError) in
          try DemoPopulation.seed(store, bundle: bundle, customers: config.customers, nowDays: config.clock())
        })
    } catch {
      FileHandle.standardError.write(Data("arbiter: \(error.message)\n".utf8))
      throw ExitCode(2)
    }
    try await server.run()
  }
}
