import ArbiterAPI
import ArbiterCore
import ArbiterDecisioning
import ArbiterDemoBank
import ArbiterFeatureStore
import ArbiterModels
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// An assembled Arbiter server: the live state (bundle, customers, interaction log) and the
/// gRPC services over it. ``run()`` serves until SIGINT or SIGTERM, then shuts down gracefully.
public final class ArbiterServer: Sendable {
  public let configuration: ArbiterConfiguration
  public let live: LiveState
  public let health: HealthService
  let logger: Logger
  /// The no-op baseline's answer: a real decision made once at start, encoded.
  let echo: Arbiter_V1_DecideResponse
  let echoResponse: [UInt8]
  private let leanPortBox = BoundPort()

  /// The lean protocol's port once it listens (useful with port 0).
  public var leanBoundPort: Int? { leanPortBox.value.withLock { $0 } }

  /// Loads the bundle and the customers. Errors name the file or setting at fault.
  public init(configuration: ArbiterConfiguration, logger: Logger) throws(ArbiterError) {
    self.configuration = configuration
    self.logger = logger
    let started = DispatchTime.now().uptimeNanoseconds
    let bundle = try ModelBundle.load(from: configuration.bundlePath)
    let customers = try Self.openStore(bundle: bundle, configuration: configuration, logger: logger)
    let pacing = PacingState(restoring: try configuration.storeDirectory.flatMap { (directory: String) throws(ArbiterError) in
      try PacingCheckpointFile(storeDirectory: directory).read()
    })
    let engine = try DecisionEngine(bundle: bundle, customers: customers, clock: configuration.clock, pacing: pacing)
    try engine.probe()
    let log = try InteractionLog(
      path: configuration.interactionLogPath, decisionCapacity: configuration.decisionMemory,
      offerCapacity: configuration.offerMemory, historyCapacity: configuration.historyMemory,
      expectedCustomers: customers.count + customers.count / 4)
    let restored = log.restored
    if restored.decisions > 0 || restored.malformedLines > 0 {
      logger.log(level: restored.malformedLines > 0 ? .warning : .info, "read back the interaction log's newest decisions and outcomes", metadata: [
        "decisions": "\(restored.decisions)", "outcomes": "\(restored.outcomes)",
        "outcomes_of_older_decisions": "\(restored.outcomesOfOlderDecisions)", "malformed_lines_skipped": "\(restored.malformedLines)",
      ])
    }
    live = LiveState(snapshot: DecisionSnapshot(engine: engine, bundle: bundle), log: log, bundlePath: configuration.bundlePath)
    health = HealthService()
    // The baseline's response: a real five-offer web decision (not logged), the size a Decide
    // response has in the benchmark.
    var sample = Arbiter_V1_DecideResponse()
    for id in customers.customerIds().prefix(200) {
      guard let decision = try? engine.decide(DecisionRequest(customerId: id, channel: .web, maxOffers: 5), decisionId: "echo") else { continue }
      sample = decision.proto
      if decision.offers.count == 5 { break }
    }
    echo = sample
    echoResponse = (try? sample.serializedBytes()) ?? []
    logger.info("loaded", metadata: [
      "bundle": "\(bundle.manifest.name)/\(bundle.manifest.version)", "path": "\(bundle.directory ?? "")",
      "offers": "\(engine.catalogue.offers.count)", "customers": "\(customers.count)",
      "ms": "\((DispatchTime.now().uptimeNanoseconds - started) / 1_000_000)",
    ])
  }

  /// The customer store: opened from its directory (snapshot + log), and seeded from the bundle's
  /// population when it is empty.
  static func openStore(bundle: ModelBundle, configuration: ArbiterConfiguration, logger: Logger) throws(ArbiterError) -> FeatureStore {
    let store: FeatureStore
    if let directory = configuration.storeDirectory {
      store = try FeatureStore.open(directory: directory, schema: bundle.schema, policy: configuration.fsyncPolicy)
      logger.info("opened feature store", metadata: [
        "directory": "\(directory)", "customers": "\(store.count)", "replay": "\(store.replayReport)", "fsync": "\(configuration.fsyncPolicy)",
      ])
      if let torn = store.replayReport.truncated {
        logger.warning("cut off a torn log tail", metadata: ["segment": "\(torn.path)", "offset": "\(torn.offset)", "bytes": "\(torn.discardedBytes)"])
      }
    } else {
      store = try FeatureStore(schema: bundle.schema, expectedCustomers: configuration.customers ?? bundle.manifest.population?.customers ?? 0)
    }
    guard store.count == 0 else { return store }
    guard let population = bundle.manifest.population else {
      throw ArbiterError(.failedPrecondition, "the feature store is empty and bundle \(bundle.manifest.name)/\(bundle.manifest.version) names no population; import customers with `arbiter-tools import`")
    }
    guard population.generator == DemoPopulation.generatorName else {
      throw ArbiterError(.failedPrecondition, "bundle population generator '\(population.generator)' is unknown (this build knows '\(DemoPopulation.generatorName)')")
    }
    let count = configuration.customers ?? population.customers
    guard count > 0, count <= 20_000_000 else { throw ArbiterError(.invalidArgument, "customers must be between 1 and 20000000, got \(count)") }
    let generator = DemoPopulation(seed: population.seed)
    guard generator.schema == bundle.schema else {
      throw ArbiterError(.failedPrecondition, "the demo population's schema differs from bundle \(bundle.manifest.name)/\(bundle.manifest.version)'s")
    }
    // The generator describes customers as they read at one moment; store them as of now.
    let now = configuration.clock()
    var start = 0
    while start < count {
      let end = min(count, start + 50_000)
      _ = try store.upsert((start..<end).map { number in
        var record = generator.customer(number: number)
        record.values = store.derivations.materialized(record.values, nowDays: now)
        return record
      })
      start = end
    }
    if configuration.storeDirectory != nil {
      let report = try store.writeSnapshot()
      logger.info("seeded the feature store from the demo population", metadata: ["customers": "\(report.rows)", "snapshot": "\(report.path)"])
    }
    return store
  }

  /// The gRPC services, for any transport.
  public var services: [any RegistrableRPCService] {
    [DecisionServiceRegistration(service: DecisionService(live: live)), ProfileService(live: live), AdminService(live: live, logger: logger), health, EchoService(response: echo)]
  }

  /// Serves only the lean protocol on `port` (0 picks one; see ``leanBoundPort``) until the
  /// task is cancelled. ``run()`` serves it with everything else.
  public func runLeanServer(port: Int) async throws {
    let box = leanPortBox
    try await LeanServerService(
      host: configuration.host, port: port, methods: LeanMethods(server: self), maxFrameSize: configuration.maxFrameSize, logger: logger,
      onBound: { bound in box.value.withLock { $0 = bound } }
    ).run()
  }

  /// Writes quota and capacity use to the store directory now (as the checkpoint service does
  /// every `pacingCheckpointSeconds`, and shutdown does last).
  public func writePacingCheckpoint() {
    guard let directory = configuration.storeDirectory else { return }
    do throws(ArbiterError) {
      try PacingCheckpointFile(storeDirectory: directory).write(live.snapshot.engine.pacing.checkpoint())
    } catch {
      logger.error("cannot write the pacing checkpoint", metadata: ["error": "\(error.message)"])
    }
  }

  /// The feature store behind decisions.
  public var store: FeatureStore { live.snapshot.engine.customers }

  /// A gRPC server on the configured address (plaintext HTTP/2).
  public func makeGRPCServer() -> GRPCServer<HTTP2ServerTransport.Posix> {
    var config = HTTP2ServerTransport.Posix.Config.defaults
    config.http2.maxConcurrentStreams = 1024
    return GRPCServer(
      transport: .http2NIOPosix(
        address: .ipv4(host: configuration.host, port: configuration.grpcPort), transportSecurity: .plaintext, config: config),
      services: services)
  }

  /// Serves until SIGINT/SIGTERM; then reports NOT_SERVING, lets in-flight calls finish, and
  /// flushes the interaction log.
  public func run() async throws {
    let server = makeGRPCServer()
    let service = GRPCServerService(server: server, health: health, logger: logger)
    var services: [ServiceGroupConfiguration.ServiceConfiguration] = [.init(service: service)]
    if let port = configuration.leanPort {
      let box = leanPortBox
      services.append(.init(service: LeanServerService(
        host: configuration.host, port: port, methods: LeanMethods(server: self), maxFrameSize: configuration.maxFrameSize, logger: logger,
        onBound: { bound in box.value.withLock { $0 = bound } })))
    }
    if let interval = configuration.bundleWatchSeconds {
      services.append(.init(service: BundleWatchService(live: live, interval: interval, logger: logger)))
    }
    if let interval = configuration.logFlushSeconds, configuration.interactionLogPath != nil {
      services.append(.init(service: LogFlushService(log: live.log, interval: interval)))
    }
    if let interval = configuration.snapshotIntervalSeconds, configuration.storeDirectory != nil {
      services.append(.init(service: SnapshotService(store: store, interval: interval, logger: logger)))
    }
    if let directory = configuration.storeDirectory, let interval = configuration.pacingCheckpointSeconds {
      services.append(.init(service: PacingCheckpointService(
        pacing: live.snapshot.engine.pacing, file: PacingCheckpointFile(storeDirectory: directory), interval: interval,
        logger: logger)))
    }
    let group = ServiceGroup(
      configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
    defer {
      live.log.flush()
      writePacingCheckpoint()
      if configuration.storeDirectory != nil && store.hasChangesSinceSnapshot {
        do {
          let report = try store.writeSnapshot()
          logger.info("snapshot at shutdown", metadata: ["rows": "\(report.rows)", "seconds": "\(report.seconds)"])
        } catch {
          logger.error("snapshot at shutdown failed; the log keeps every update", metadata: ["error": "\(error.message)"])
        }
      }
      store.close()
    }
    try await group.run()
    logger.info("stopped", metadata: ["decisions": "\(live.log.counts.decisions)", "outcomes": "\(live.log.counts.outcomes)"])
  }
}

/// Runs a gRPC server as a lifecycle service.
struct GRPCServerService: Service {
  let server: GRPCServer<HTTP2ServerTransport.Posix>
  let health: HealthService
  let logger: Logger

  func run() async throws {
    try await withGracefulShutdownHandler {
      try await withThrowingDiscardingTaskGroup { group in
        group.addTask { try await server.serve() }
        if let address = try await server.listeningAddress {
          logger.notice("serving gRPC", metadata: ["address": "\(address)"])
        }
      }
    } onGracefulShutdown: {
      logger.info("shutting down: finishing in-flight calls")
      health.beginShutdown()
      server.beginGracefulShutdown()
    }
  }
}

/// Takes a snapshot of the feature store every `interval` seconds, off the request path, and
/// compacts the log behind it.
struct SnapshotService: Service {
  let store: FeatureStore
  let interval: Double
  let logger: Logger

  func run() async throws {
    await everyInterval(interval) {
      let store = self.store
      let result = await Task.detached(priority: .utility) { () -> Result<SnapshotReport, ArbiterError> in
        do { return .success(try store.writeSnapshot()) } catch let error as ArbiterError { return .failure(error) } catch { return .failure(ArbiterError(.internalError, "\(error)")) }
      }.value
      switch result {
      case .success(let report):
        logger.info("snapshot written", metadata: [
          "rows": "\(report.rows)", "bytes": "\(report.bytes)", "seconds": "\(report.seconds)", "removedLogSegments": "\(report.removedSegments)",
        ])
      case .failure(let error):
        logger.error("snapshot failed; the log keeps every update", metadata: ["error": "\(error.message)"])
      }
    }
  }
}

/// Writes the interaction log's buffered decision lines every `interval` seconds, so that a
/// quiet server's decisions reach the file (and readers of it) promptly and a crash loses at most
/// that interval's. A busy server writes whenever 64 KiB are buffered anyway.
struct LogFlushService: Service {
  let log: InteractionLog
  let interval: Double

  func run() async throws {
    await everyInterval(interval) { log.flush() }
  }
}

/// Watches the bundle root and publishes a newer version when one appears (validated like a
/// reload; a failed one is reported once and the live bundle keeps serving).
struct BundleWatchService: Service {
  let live: LiveState
  let interval: Double
  let logger: Logger

  func run() async throws {
    var watch = live.startBundleWatch()
    await everyInterval(interval) {
      switch live.checkForNewBundle(&watch) {
      case .unchanged: break
      case .published(let version): logger.notice("published a new bundle version", metadata: ["version": "\(version)"])
      case .refused(let directory, let reason):
        logger.error("refused a new bundle version; the live one keeps serving", metadata: ["directory": "\(directory)", "reason": "\(reason)"])
      }
    }
  }
}

/// Runs `body` every `interval` seconds until the service group shuts down gracefully (or the
/// task is cancelled); a shutdown during the wait ends it without one more run.
func everyInterval(_ interval: Double, _ body: () async -> Void) async {
  while !Task.isCancelled && !Task.isShuttingDownGracefully {
    do { try await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(interval)) } } catch { return }
    if Task.isShuttingDownGracefully { return }
    await body()
  }
}

/// `arbiter.v1.BenchmarkService`: the gRPC no-op baseline (the same sizes as Decide, no work).
struct EchoService: Arbiter_V1_BenchmarkService.SimpleServiceProtocol {
  let response: Arbiter_V1_DecideResponse

  func echo(request: Arbiter_V1_DecideRequest, context: ServerContext) async throws -> Arbiter_V1_DecideResponse { response }
}

/// A port learnt once a listener is bound.
final class BoundPort: Sendable {
  let value = Mutex<Int?>(nil)
}
