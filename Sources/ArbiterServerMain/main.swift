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
  static let configuration = CommandConfiguration(
    abstract: "Load a model bundle and its customers, and serve decisions over gRPC and the lean protocol.",
    discussion: """
      Every setting has a default that serves the bundled demo; a configuration file (--config, YAML) sets any of \
      them, and the flags below override the file.
      """)

  @Option(
    help: "Configuration file (YAML: host, grpc, lean, http, bundle, store, interaction-log, pacing; see README).")
  var config: String?
  @Option(help: "Host to bind (default 127.0.0.1).") var host: String?
  @Option(help: "gRPC port (0 picks a free one; default 50051).") var port: Int?
  @Option(help: "Lean-protocol port (0 picks a free one; 'off' serves gRPC only; default 50052).") var leanPort: String?
  @Option(help: "Largest lean-protocol frame accepted, in bytes (default 4 MiB).") var maxFrameSize: Int?
  @Option(help: "HTTP/JSON port for websites, the console and the dashboard (0 picks one; 'off'; default 8080).")
  var httpPort: String?
  @Option(help: "Largest HTTP request body accepted, in bytes (default 1 MiB).") var maxBodyBytes: Int?
  @Option(help: "An origin whose pages may call the HTTP API (e.g. https://www.example.com); repeatable.")
  var corsOrigin: [String] = []
  @Option(help: "Serve the pages from this directory instead of the built-in copy.") var webRoot: String?
  @Option(help: "Bundle directory: a version directory or a root whose newest version is loaded (default models/demo).")
  var bundle: String?
  @Option(help: "Number of demo customers to build (default: as the bundle says).") var customers: Int?
  @Option(
    help: "Interaction log file (JSON lines); 'none' keeps it in memory (default arbiter-data/interactions.jsonl).")
  var interactionLog: String?
  @Option(help: "Feature store directory; 'none' keeps customers in memory only (default arbiter-data/store).")
  var store: String?
  @Option(help: "When the update log is forced to disk: 'always' or milliseconds of group commit (default 10).")
  var fsync: String?
  @Option(help: "How far ahead of the server clock an event may be dated (e.g. 5m, 30s; default 5m).")
  var maxEventSkew: String?
  @Option(help: "How far ahead of the server clock an outcome may be dated (default 5m).") var maxOutcomeSkew: String?
  @Option(help: "Between background snapshots of the feature store: seconds or a duration (0: never; default 600).")
  var snapshotInterval: String?
  @Option(help: "Between looks for a newer bundle version under --bundle: seconds or a duration (0: never; default 5).")
  var bundleWatch: String?
  @Option(
    help: """
      Whether calls need credentials: 'on' (the default; see docs/security.md) or 'off' (loopback only: no       credential is checked).
      """)
  var auth: String?
  @Option(
    help:
      "Where the admin token made on first start is kept ('none': no admin token; default arbiter-data/admin-token).")
  var adminTokenFile: String?
  @Option(help: "Where the site key (decide only) made on first start is kept ('none'; default arbiter-data/site-key).")
  var siteKeyFile: String?
  @Option(help: "Serve every door over TLS with this certificate chain (PEM); needs --tls-key.")
  var tlsCertificate: String?
  @Option(help: "The TLS certificate's private key (PEM).") var tlsKey: String?
  @Option(help: "Require client certificates signed by this authority (PEM): mutual TLS.") var tlsClientCa: String?
  @Option(help: "Trace every request (OpenTelemetry) to this OTLP/gRPC collector, e.g. http://127.0.0.1:4317.")
  var otlpEndpoint: String?
  @Option(help: "Log level: trace, debug, info, notice, warning, error.") var logLevel = "info"
  @Option(help: "Offers and outcomes kept for the contact policy, all customers together, 40 bytes each (default 4M).")
  var historyMemory: Int?
  @Option(help: "Recent decisions outcomes may refer to, about 40 bytes each (default 1M).") var decisionMemory: Int?
  @Option(help: "Offers of those decisions held, 4 bytes each (default: eight per decision).") var offerMemory: Int?
  @Option(
    help: """
      Between writes of buffered decision lines to the interaction log: seconds or a duration (0: only when 64 KiB \
      are buffered; default 0.2).
      """
  )
  var logFlush: String?

  func run() async throws {
    guard let level = Logger.Level(rawValue: logLevel) else { throw ValidationError("unknown log level '\(logLevel)'") }
    LoggingSystem.bootstrap { label in
      var handler = StreamLogHandler.standardError(label: label)
      handler.logLevel = level
      return handler
    }
    let logger = Logger(label: "arbiter")
    let configuration: ArbiterConfiguration
    do {
      configuration = try overriding(try config.map { path throws(ArbiterError) in try .load(file: path) } ?? .init())
    } catch let error as ArbiterError {
      FileHandle.standardError.write(Data("arbiter: \(error.message)\n".utf8))
      throw ExitCode(2)
    }
    let server: ArbiterServer
    do {
      server = try ArbiterServer(
        configuration: configuration, logger: logger,
        seedingEmptyStore: { [configuration] store, bundle throws(ArbiterError) in
          try DemoPopulation.seed(
            store, bundle: bundle, customers: configuration.store.customers, nowDays: configuration.clock())
        })
    } catch {
      FileHandle.standardError.write(Data("arbiter: \(error.message)\n".utf8))
      throw ExitCode(2)
    }
    try await server.run()
  }

  /// A door's port flag: a port number, or "off" (nil: no such door).
  private static func portOrOff(_ text: String, flag: String) throws -> Int? {
    guard text == "off" || Int(text).map({ (0...65_535).contains($0) }) == true else {
      throw ValidationError("\(flag) must be a port number or 'off', got '\(text)'")
    }
    return Int(text)
  }

  /// `base` with every flag given set over it.
  private func overriding(_ base: ArbiterConfiguration) throws -> ArbiterConfiguration {
    var config = base
    if let host { config.host = host }
    if let port {
      guard (0...65_535).contains(port) else { throw ValidationError("--port must be a port number, got \(port)") }
      config.grpc.port = port
    }
    if let leanPort { config.lean.port = try Self.portOrOff(leanPort, flag: "--lean-port") }
    if let maxFrameSize {
      guard maxFrameSize >= 1024 else { throw ValidationError("--max-frame-size must be at least 1024 bytes") }
      config.lean.maxFrameSize = maxFrameSize
    }
    if let httpPort { config.http.port = try Self.portOrOff(httpPort, flag: "--http-port") }
    if let maxBodyBytes {
      guard maxBodyBytes >= 1024 else { throw ValidationError("--max-body-bytes must be at least 1024 bytes") }
      config.http.maxBodyBytes = maxBodyBytes
    }
    if !corsOrigin.isEmpty { config.http.corsOrigins = corsOrigin }
    if let webRoot { config.http.webRoot = webRoot }
    if let bundle { config.bundle.path = bundle }
    if let customers { config.store.customers = customers }
    if let interactionLog { config.interactionLog.path = interactionLog == "none" ? nil : interactionLog }
    if let store { config.store.directory = store == "none" ? nil : store }
    if let fsync {
      guard let policy = FsyncPolicy(fsync) else {
        throw ValidationError("--fsync must be 'always' or a positive number of milliseconds, got '\(fsync)'")
      }
      config.store.fsync = policy
    }
    if let maxEventSkew { config.store.maxEventSkew = try Self.duration(maxEventSkew, "--max-event-skew") }
    if let maxOutcomeSkew {
      config.interactionLog.maxOutcomeSkew = try Self.duration(maxOutcomeSkew, "--max-outcome-skew")
    }
    if let snapshotInterval {
      config.store.snapshotInterval = try Self.interval(snapshotInterval, "--snapshot-interval")
    }
    if let bundleWatch { config.bundle.watchInterval = try Self.interval(bundleWatch, "--bundle-watch") }
    if let logFlush { config.interactionLog.flushInterval = try Self.interval(logFlush, "--log-flush") }
    for (value, flag) in [
      (historyMemory, "--history-memory"), (decisionMemory, "--decision-memory"), (offerMemory, "--offer-memory"),
    ] {
      if let value, value < 1 { throw ValidationError("\(flag) must be at least 1") }
    }
    if let auth {
      guard auth == "on" || auth == "off" else { throw ValidationError("--auth must be 'on' or 'off', got '\(auth)'") }
      config.access.required = auth == "on"
    }
    if let adminTokenFile { config.access.adminTokenFile = adminTokenFile == "none" ? nil : adminTokenFile }
    if let siteKeyFile { config.access.siteKeyFile = siteKeyFile == "none" ? nil : siteKeyFile }
    if let historyMemory { config.interactionLog.historyMemory = historyMemory }
    if let decisionMemory { config.interactionLog.decisionMemory = decisionMemory }
    if let offerMemory { config.interactionLog.offerMemory = offerMemory }
    if let otlpEndpoint {
      var tracing = config.tracing ?? ArbiterConfiguration.Tracing(endpoint: otlpEndpoint)
      tracing.endpoint = otlpEndpoint
      config.tracing = tracing
    }
    if tlsCertificate != nil || tlsKey != nil || tlsClientCa != nil {
      guard let certificate = tlsCertificate ?? config.tls?.certificateChain, let key = tlsKey ?? config.tls?.privateKey
      else { throw ValidationError("--tls-certificate and --tls-key go together (PEM files)") }
      var tls = config.tls ?? ArbiterConfiguration.TLS(certificateChain: certificate, privateKey: key)
      tls.certificateChain = certificate
      tls.privateKey = key
      if let tlsClientCa { tls.clientCertificateAuthority = tlsClientCa == "none" ? nil : tlsClientCa }
      config.tls = tls
    }
    return config
  }

  private static func duration(_ text: String, _ flag: String) throws -> Duration {
    guard let value = DurationText.parse(text) else {
      throw ValidationError("\(flag) must be a whole number of ms, s, m or h (e.g. 5m), got '\(text)'")
    }
    return value
  }

  /// Seconds (a number, fractions allowed) or a duration with its unit; 0 means never.
  private static func interval(_ text: String, _ flag: String) throws -> Duration? {
    let value: Duration
    if let seconds = Double(text) {
      guard seconds.isFinite, seconds >= 0 else { throw ValidationError("\(flag) must be a number of seconds >= 0") }
      value = .milliseconds(Int64((seconds * 1000).rounded()))
    } else {
      value = try duration(text, flag)
    }
    return value == .zero ? nil : value
  }
}
