import ArbiterAPI
import ArbiterCore
import ArbiterDecisioning
import ArbiterDemoBank
import ArbiterModels
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import ServiceLifecycle

/// An assembled Arbiter server: the live state (bundle, customers, interaction log) and the
/// gRPC services over it. ``run()`` serves until SIGINT or SIGTERM, then shuts down gracefully.
public final class ArbiterServer: Sendable {
  public let configuration: ArbiterConfiguration
  public let live: LiveState
  public let health: HealthService
  let logger: Logger

  /// Loads the bundle and the customers. Errors name the file or setting at fault.
  public init(configuration: ArbiterConfiguration, logger: Logger) throws(ArbiterError) {
    self.configuration = configuration
    self.logger = logger
    let started = DispatchTime.now().uptimeNanoseconds
    let bundle = try ModelBundle.load(from: configuration.bundlePath)
    let customers = try Self.loadCustomers(bundle: bundle, override: configuration.customers)
    let engine = try DecisionEngine(bundle: bundle, customers: customers)
    let log = try InteractionLog(path: configuration.interactionLogPath, decisionCapacity: configuration.decisionMemory)
    live = LiveState(snapshot: DecisionSnapshot(engine: engine, bundle: bundle), log: log, bundlePath: configuration.bundlePath)
    health = HealthService()
    logger.info("loaded", metadata: [
      "bundle": "\(bundle.manifest.name)/\(bundle.manifest.version)", "path": "\(bundle.directory ?? "")",
      "offers": "\(engine.catalogue.offers.count)", "customers": "\(customers.count)",
      "ms": "\((DispatchTime.now().uptimeNanoseconds - started) / 1_000_000)",
    ])
  }

  /// The customers a bundle serves. The demo bank's population is rebuilt from its seed.
  static func loadCustomers(bundle: ModelBundle, override: Int?) throws(ArbiterError) -> CustomerStore {
    guard let population = bundle.manifest.population else {
      throw ArbiterError(.failedPrecondition, "bundle \(bundle.manifest.name)/\(bundle.manifest.version) names no population, and this build has no customer import yet")
    }
    guard population.generator == DemoPopulation.generatorName else {
      throw ArbiterError(.failedPrecondition, "bundle population generator '\(population.generator)' is unknown (this build knows '\(DemoPopulation.generatorName)')")
    }
    let count = override ?? population.customers
    guard count > 0, count <= 20_000_000 else { throw ArbiterError(.invalidArgument, "customers must be between 1 and 20000000, got \(count)") }
    let generator = DemoPopulation(seed: population.seed)
    guard generator.schema == bundle.schema else {
      throw ArbiterError(.failedPrecondition, "the demo population's schema differs from bundle \(bundle.manifest.name)/\(bundle.manifest.version)'s")
    }
    return try CustomerStore(schema: bundle.schema, records: generator.customers(count: count))
  }

  /// The gRPC services, for any transport.
  public var services: [any RegistrableRPCService] {
    [DecisionService(live: live), ProfileService(live: live), AdminService(live: live, logger: logger), health]
  }

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
    let group = ServiceGroup(
      configuration: .init(services: [.init(service: service)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
    defer { live.log.flush() }
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
