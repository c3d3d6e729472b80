import ArbiterAPI
import ArbiterAccess
import ArbiterContactCentre
import ArbiterCore
import ArbiterDecisioning
import ArbiterFeatureStore
import ArbiterHTTP
import ArbiterLean
import ArbiterModels
import ArbiterObservability
import ArbiterService
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import NIOSSL
import ServiceLifecycle

/// An assembled Arbiter server: the live state (bundle, customers, interaction log), the gRPC
/// services over it and the lean protocol's door. As a lifecycle `Service`, ``run()`` serves until
/// SIGINT or SIGTERM, then shuts down gracefully.
public final class ArbiterServer: Service, Sendable {
  /// What the server was set up with.
  public let configuration: ArbiterConfiguration
  /// The bundle, engine and interaction log decisions are made with.
  public let live: LiveState
  /// The standard gRPC health service, NOT_SERVING once shutdown begins.
  public let health: HealthService
  /// What gRPC server reflection serves (nil if its built-in descriptors could not be read).
  let reflection: ReflectionIndex?
  /// TLS on the doors it covers (nil: all plaintext), and the lean protocol's context of it.
  let tls: ServerTLS?
  let leanTLS: NIOSSLContext?
  /// OpenTelemetry tracing, when configured.
  let tracing: ServerTracing?
  let logger: Logger
  /// The no-op baseline's answer: a real decision made once at start, encoded.
  let echo: Arbiter_V1_DecideResponse
  let echoResponse: [UInt8]
  private let leanPortBox = BoundPort()
  private let httpPortBox = BoundPort()
  /// The contact centre's call distribution (call-backs and calls to agents' consoles).
  public let contactCentre = CallDistributor()
  /// Checks every call's credential and role (``ArbiterConfiguration/access``).
  public let authenticator: Authenticator
  /// The site key (`decide` only) the demo site's pages give the web snippet, when one is made.
  public let siteKey: String?
  /// Admin actions and refused attempts at them (``AccessConfiguration/auditLog``).
  public let audit: AuditLog
  /// Requests on every door and what the server keeps, rendered at the HTTP door's `/metrics`.
  public let metrics: ServerMetrics

  /// Fills an empty feature store (the demo population's `DemoPopulation.seed`, for one), for
  /// ``init(configuration:logger:seedingEmptyStore:)``.
  public typealias StoreSeeder = (_ store: FeatureStore, _ bundle: ModelBundle) throws(ArbiterError) -> Void

  /// The lean protocol's port once it listens (useful with port 0).
  public var leanBoundPort: Int? { leanPortBox.value.withLock { $0 } }

  /// The HTTP door's port once it listens (useful with port 0).
  public var httpBoundPort: Int? { httpPortBox.value.withLock { $0 } }

  /// A server over parts already opened: `bundle` decided with over `store`'s customers, `log`
  /// for decisions and outcomes, `pacing` for quota and capacity use. The bundle is probed (its
  /// customers scored) before anything is served.
  public init(
    configuration: ArbiterConfiguration, bundle: ModelBundle, store: FeatureStore, log: InteractionLog,
    pacing: PacingState, logger: Logger
  ) throws(ArbiterError) {
    self.configuration = configuration
    self.logger = logger
    try GeneratedCredentials.checkExposure(host: configuration.host, access: configuration.access)
    let (credentials, access) = try GeneratedCredentials.provide(for: configuration.access, logger: logger)
    authenticator = try Authenticator(configuration: access)
    siteKey = credentials.siteKey
    audit = try AuditLog(path: access.auditLog)
    let descriptors = ConnectionPolicy.descriptorLimit()
    metrics = ServerMetrics(
      connections: [
        ConnectionCounter(door: "grpc", limit: configuration.grpc.connections.limit(descriptors: descriptors)),
        ConnectionCounter(door: "lean", limit: configuration.lean.connections.limit(descriptors: descriptors)),
        ConnectionCounter(door: "http", limit: configuration.http.connections.limit(descriptors: descriptors)),
      ],
      inFlight: [
        InFlightLimit(door: "grpc", limit: configuration.grpc.connections.maxInFlight),
        InFlightLimit(
          door: "lean", limit: configuration.lean.connections.maxInFlight,
          maxQueueDelay: configuration.lean.connections.maxQueueDelay),
        InFlightLimit(
          door: "http", limit: configuration.http.connections.maxInFlight,
          maxQueueDelay: configuration.http.connections.maxQueueDelay),
      ])
    if !access.required {
      logger.notice("access: calls are not checked for credentials (access.required is false; docs/security.md)")
    } else if access.apiKeys.isEmpty && access.tokenKeys.isEmpty {
      throw ArbiterError(
        .failedPrecondition,
        "access.required is true but no credential could be accepted: configure api-keys or token-keys, or an admin-token-file"
      )
    }
    // The adaptive models as last kept (their outcomes since are replayed below).
    let adaptiveFile = try configuration.adaptive.snapshotPath.map { path throws(ArbiterError) in
      try AdaptiveSnapshotStore(path: path).read()
    } ?? nil
    let adaptive = adaptiveFile.map {
      AdaptiveModels(schema: bundle.schema, customers: store, nowDays: configuration.clock(), snapshot: $0.models)
    }
    let engine = try DecisionEngine(
      bundle: bundle, customers: store, clock: configuration.clock, pacing: pacing,
      adaptive: adaptive.flatMap { $0.columns == AdaptiveModels.inputColumns(of: bundle.schema) ? $0 : nil })
    try engine.probe()
    live = LiveState(
      snapshot: DecisionSnapshot(engine: engine, bundle: bundle), log: log, bundlePath: configuration.bundle.path,
      modelRoots: configuration.bundle.modelRoots.map { ModelRoots($0) }, promotion: configuration.promotion)
    live.addErasureParticipant(contactCentre)
    if let adaptiveFile {
      let replayed = try live.replayAdaptive(adaptiveFile)
      logger.info("adaptive models restored", metadata: ["outcomes replayed": "\(replayed)"])
    }
    health = HealthService()
    tls = try configuration.tls.map { settings throws(ArbiterError) in try ServerTLS(settings) }
    leanTLS = try tls.flatMap { tls throws(ArbiterError) in tls.covers(.lean) ? try tls.leanContext() : nil }
    tracing = try configuration.tracing.map { settings throws(ArbiterError) in
      try ServerTracing(settings, logger: logger)
    }
    do {
      reflection = try ReflectionIndex(services: Self.reflectedServices)
    } catch {
      // The descriptors are built in: this is a build fault, served around rather than fatal.
      logger.error("gRPC server reflection is off: its descriptors cannot be read", metadata: ["error": "\(error)"])
      reflection = nil
    }
    // The baseline's response: a real five-offer web decision (not logged), the size a Decide
    // response has in the benchmark.
    var sample = Arbiter_V1_DecideResponse()
    for id in store.customerIds().prefix(200) {
      let request = DecisionRequest(customerId: id, channel: .web, maxOffers: 5)
      guard let decision = try? engine.decide(request, decisionId: "echo") else { continue }
      sample = decision.proto
      if decision.offers.count == 5 { break }
    }
    echo = sample
    echoResponse = (try? sample.serializedBytes()) ?? []
  }

  /// Opens what `configuration` names — the bundle, the customer store (`seed` fills it when it
  /// is empty), the pacing checkpoint and the interaction log — and assembles a server over them.
  /// Errors name the file or setting at fault.
  public convenience init(
    configuration: ArbiterConfiguration, logger: Logger, seedingEmptyStore seed: StoreSeeder? = nil
  ) throws(ArbiterError) {
    let started = DispatchTime.now().uptimeNanoseconds
    let bundle = try ModelBundle.load(from: configuration.bundle.path)
    let customers = try Self.openStore(bundle: bundle, configuration: configuration, logger: logger, seed: seed)
    let checkpoint = try configuration.store.directory.flatMap { (directory: String) throws(ArbiterError) in
      try PacingCheckpointFile(storeDirectory: directory).read()
    }
    let pacing = PacingState(restoring: checkpoint)
    let log = try Self.openInteractionLog(configuration: configuration, customers: customers.count, logger: logger)
    try self.init(
      configuration: configuration, bundle: bundle, store: customers, log: log, pacing: pacing, logger: logger)
    logger.info(
      "loaded",
      metadata: [
        "bundle": "\(bundle.manifest.name)/\(bundle.manifest.version)", "path": "\(bundle.directory ?? "")",
        "offers": "\(live.snapshot.engine.catalogue.offers.count)", "customers": "\(customers.count)",
        "ms": "\((DispatchTime.now().uptimeNanoseconds - started) / 1_000_000)",
      ])
  }

  /// The customer store: opened from its directory (snapshot + log), and filled by `seed` when it
  /// is empty (then snapshotted, when it has a directory).
  static func openStore(
    bundle: ModelBundle, configuration: ArbiterConfiguration, logger: Logger, seed: StoreSeeder?
  ) throws(ArbiterError) -> FeatureStore {
    let store: FeatureStore
    if let directory = configuration.store.directory {
      store = try FeatureStore.open(
        directory: directory, schema: bundle.schema, policy: configuration.store.fsync,
        maxEventSkew: configuration.store.maxEventSkew)
      logger.info(
        "opened feature store",
        metadata: [
          "directory": "\(directory)", "customers": "\(store.count)", "replay": "\(store.replayReport)",
          "fsync": "\(configuration.store.fsync)",
        ])
      if let torn = store.replayReport.truncated {
        logger.warning(
          "cut off a torn log tail",
          metadata: ["segment": "\(torn.path)", "offset": "\(torn.offset)", "bytes": "\(torn.discardedBytes)"])
      }
    } else {
      let expected = configuration.store.customers ?? bundle.manifest.population?.customers ?? 0
      store = try FeatureStore(
        schema: bundle.schema, expectedCustomers: expected, maxEventSkew: configuration.store.maxEventSkew)
    }
    guard store.count == 0 else { return store }
    guard let seed else {
      throw ArbiterError(
        .failedPrecondition, "the feature store is empty; import customers with `arbiter-tools import`")
    }
    try seed(store, bundle)
    if configuration.store.directory != nil {
      let report = try store.writeSnapshot()
      logger.info(
        "seeded the feature store from the demo population",
        metadata: ["customers": "\(report.rows)", "snapshot": "\(report.path)"])
    }
    return store
  }

  /// The interaction log, with the newest decisions and outcomes of its file read back.
  static func openInteractionLog(
    configuration: ArbiterConfiguration, customers: Int, logger: Logger
  ) throws(ArbiterError) -> InteractionLog {
    let settings = configuration.interactionLog
    let skew = settings.maxOutcomeSkew.components
    let log = try InteractionLog(
      path: settings.path, decisionCapacity: settings.decisionMemory, offerCapacity: settings.offerMemory,
      historyCapacity: settings.historyMemory, expectedCustomers: customers + customers / 4,
      maxClockSkewMillis: skew.seconds * 1_000 + skew.attoseconds / 1_000_000_000_000_000,
      declineReasonBytes: settings.declineReasonMemory)
    let restored = log.restored
    if restored.decisions > 0 || restored.malformedLines > 0 {
      logger.log(
        level: restored.malformedLines > 0 ? .warning : .info,
        "read back the interaction log's newest decisions and outcomes",
        metadata: [
          "decisions": "\(restored.decisions)", "outcomes": "\(restored.outcomes)",
          "outcomes_of_older_decisions": "\(restored.outcomesOfOlderDecisions)",
          "malformed_lines_skipped": "\(restored.malformedLines)",
        ])
    }
    return log
  }

  /// The gRPC services, for any transport.
  public var services: [any RegistrableRPCService] {
    var services: [any RegistrableRPCService] = [
      DecisionServiceRegistration(service: DecisionService(live: live)), ProfileService(live: live),
      AdminService(live: live, logger: logger, audit: audit), health, EchoService(response: echo),
    ]
    // Server reflection (v1, and v1alpha for older clients), over the descriptors built in.
    if let index = reflection {
      services.append(ServerReflectionService(index: index))
      services.append(ServerReflectionServiceV1Alpha(index: index))
    }
    return services
  }

  /// The services listed by server reflection: those served above.
  static let reflectedServices = [
    Arbiter_V1_DecisionService.descriptor, Arbiter_V1_ProfileService.descriptor, Arbiter_V1_AdminService.descriptor,
    Grpc_Health_V1_Health.descriptor, Arbiter_V1_BenchmarkService.descriptor,
    Grpc_Reflection_V1_ServerReflection.descriptor, Grpc_Reflection_V1alpha_ServerReflection.descriptor,
  ].map(\.fullyQualifiedService)

  /// The gRPC door's interceptors: the trace span (when tracing is on), the request metrics,
  /// the deadline, then the access check (the bound on calls in flight is kept by each stream:
  /// ``GRPCAdmissionHandler``).
  public var interceptors: [any ServerInterceptor] {
    var interceptors: [any ServerInterceptor] = []
    if let tracing { interceptors.append(TracingInterceptor(tracing: tracing.tracing)) }
    interceptors.append(MetricsInterceptor(metrics: metrics.requests))
    interceptors.append(DeadlineInterceptor())
    interceptors.append(AccessInterceptor(authenticator: authenticator, audit: audit))
    return interceptors
  }

  /// The lean protocol's door on `port`, telling its bound port to ``leanBoundPort``.
  private func leanService(port: Int) -> LeanServerService {
    let box = leanPortBox
    return LeanServerService(
      host: configuration.host, port: port,
      methods: LeanMethodTable(
        live: live, logger: logger, echoResponse: echoResponse, audit: audit, metrics: metrics.requests),
      authenticator: authenticator.required ? authenticator : nil, connections: metrics.connections(of: "lean"),
      inFlightLimit: metrics.inFlight(of: "lean"), idleTimeout: configuration.lean.connections.idleTimeout,
      maxFrameSize: configuration.lean.maxFrameSize, tls: leanTLS, tracing: tracing?.tracing,
      logger: logger,
      onBound: { bound in box.value.withLock { $0 = bound } })
  }

  /// The HTTP/JSON door's API over the live state.
  public var httpAPI: HTTPAPI {
    HTTPAPI(
      live: live, health: health, echo: echo, contactCentre: contactCentre, configuration: configuration.http,
      authenticator: authenticator, siteKey: siteKey, metrics: metrics, tracing: tracing?.tracing, logger: logger)
  }

  /// The HTTP/JSON door on `port`, telling its bound port to ``httpBoundPort``.
  public func httpService(port: Int) -> HTTPServerService {
    let box = httpPortBox
    return HTTPServerService(
      api: httpAPI, host: configuration.host, port: port, webRoot: configuration.http.webRoot,
      tls: tls.flatMap { $0.covers(.http) ? $0.configuration(protocols: ["http/1.1"]) : nil }, logger: logger,
      onBound: { bound in box.value.withLock { $0 = bound } })
  }

  /// Serves only the lean protocol on `port` (0 picks one; see ``leanBoundPort``) until the
  /// task is cancelled. ``run()`` serves it with everything else.
  public func runLeanServer(port: Int) async throws {
    try await leanService(port: port).run()
  }

  /// Writes quota and capacity use to the store directory now (as the checkpoint service does
  /// every `pacingCheckpointSeconds`, and shutdown does last).
  public func writePacingCheckpoint() {
    guard let directory = configuration.store.directory else { return }
    do throws(ArbiterError) {
      try PacingCheckpointFile(storeDirectory: directory).write(live.snapshot.engine.pacing.checkpoint())
    } catch {
      logger.error("cannot write the pacing checkpoint", metadata: ["error": "\(error.message)"])
    }
  }

  /// The feature store behind decisions.
  public var store: FeatureStore { live.snapshot.engine.customers }

  /// A gRPC server on the configured address (HTTP/2, over TLS when configured for it).
  public func makeGRPCServer() -> GRPCServer<HTTP2ServerTransport.Posix> {
    var config = HTTP2ServerTransport.Posix.Config.defaults
    config.http2.maxConcurrentStreams = 1024
    // A connection with no call open for the idle timeout is closed (gracefully, with GOAWAY);
    // one that sends nothing at all (not even HTTP/2's preface) by the guard's idle timer.
    let policy = configuration.grpc.connections
    config.connection.maxIdleTime = policy.idleTimeout
    // A message over the limit is refused with RESOURCE_EXHAUSTED by the handler first in each
    // stream (the transport's own check, left as a backstop, resets the stream).
    let maxMessageSize = configuration.grpc.maxMessageSize
    config.rpc.maxRequestPayloadSize = maxMessageSize
    // The bound on calls in flight is kept by the stream (from its first frame to its close), so
    // that calls queued for a thread count, and shed there, on the event loop.
    let inFlight = metrics.inFlight(of: "grpc")
    config.channelDebuggingCallbacks.onAcceptHTTP2Stream = { stream in
      stream.eventLoop.makeCompletedFuture {
        try stream.pipeline.syncOperations.addHandler(GRPCMessageLimitHandler(limit: maxMessageSize), position: .first)
        if let inFlight {
          try stream.pipeline.syncOperations.addHandler(GRPCAdmissionHandler(limit: inFlight), position: .first)
        }
      }
    }
    if let counter = metrics.connections(of: "grpc") {
      config.channelDebuggingCallbacks.onAcceptTCPConnection = { channel in
        channel.eventLoop.makeCompletedFuture {
          try channel.pipeline.syncOperations.addHandlers(
            ConnectionGuard.handlers(counter: counter, idleTimeout: policy.idleTimeout, refusal: nil), position: .first)
        }
      }
    }
    return GRPCServer(
      transport: .http2NIOPosix(
        address: .ipv4(host: configuration.host, port: configuration.grpc.port),
        transportSecurity: tls.flatMap { $0.covers(.grpc) ? $0.grpcSecurity : nil } ?? .plaintext,
        config: config),
      services: services, interceptors: interceptors)
  }

  /// Serves until SIGINT/SIGTERM; then reports NOT_SERVING, lets in-flight calls finish, and
  /// flushes the interaction log.
  public func run() async throws {
    let server = makeGRPCServer()
    let service = GRPCServerService(server: server, health: health, logger: logger)
    var services: [ServiceGroupConfiguration.ServiceConfiguration] = [.init(service: service)]
    if let tracing { services.append(.init(service: tracing.service)) }
    if let port = configuration.lean.port {
      services.append(.init(service: leanService(port: port)))
    }
    if let port = configuration.http.port {
      services.append(.init(service: httpService(port: port)))
    }
    if let interval = configuration.bundle.watchInterval {
      services.append(.init(service: BundleWatchService(live: live, interval: interval, logger: logger)))
    }
    if let interval = configuration.interactionLog.flushInterval, configuration.interactionLog.path != nil {
      services.append(.init(service: LogFlushService(log: live.log, interval: interval)))
    }
    if let interval = configuration.store.snapshotInterval, configuration.store.directory != nil {
      services.append(.init(service: SnapshotService(store: store, interval: interval, logger: logger)))
    }
    if let path = configuration.adaptive.snapshotPath {
      services.append(
        .init(
          service: AdaptiveService(
            live: live, file: AdaptiveSnapshotStore(path: path), sweepInterval: configuration.adaptive.sweepInterval,
            snapshotInterval: configuration.adaptive.snapshotInterval, logger: logger)))
    }
    if let directory = configuration.store.directory, let interval = configuration.pacing.checkpointInterval {
      services.append(
        .init(
          service: PacingCheckpointService(
            pacing: live.snapshot.engine.pacing, file: PacingCheckpointFile(storeDirectory: directory),
            interval: interval,
            logger: logger)))
    }
    let group = ServiceGroup(
      configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
    defer {
      live.log.flush()
      writePacingCheckpoint()
      if configuration.store.directory != nil && store.hasChangesSinceSnapshot {
        do {
          let report = try store.writeSnapshot()
          logger.info("snapshot at shutdown", metadata: ["rows": "\(report.rows)", "seconds": "\(report.seconds)"])
        } catch {
          logger.error(
            "snapshot at shutdown failed; the log keeps every update", metadata: ["error": "\(error.message)"])
        }
      }
      store.close()
    }
    try await group.run()
    logger.info(
      "stopped", metadata: ["decisions": "\(live.log.counts.decisions)", "outcomes": "\(live.log.counts.outcomes)"])
  }
}
