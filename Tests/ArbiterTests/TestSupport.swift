import ArbiterAccess
import ArbiterCore
import ArbiterDecisioning
import ArbiterDemoBank
import ArbiterFeatureStore
import ArbiterModels
import ArbiterServer
import Foundation
import Logging
import Testing

/// Paths and shared fixtures for the tests.
enum TestSupport {
  /// The repository root (tests run from anywhere).
  static let repoRoot: String = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path

  /// The committed demo bundle.
  static var demoBundlePath: String { repoRoot + "/models/demo" }

  /// A fresh temporary directory.
  static func temporaryDirectory() throws -> String {
    let path = NSTemporaryDirectory() + "arbiter-tests-" + UUID().uuidString
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
  }

  /// The moment tests read derived features at (2025-11-20, a Thursday, 00:00 UTC).
  static let fixedClockDays = 20_412.0

  /// A server over the committed bundle with a small demo population.
  static func makeServer(
    customers: Int = 3_000, logPath: String? = nil, storeDirectory: String? = nil, bundlePath: String? = nil,
    configure: (inout ArbiterConfiguration) -> Void = { _ in }
  ) throws -> ArbiterServer {
    var config = ArbiterConfiguration()
    // Tests of decisions, stores and doors call without credentials; the access tests configure
    // their own (and nothing is written to the repository's arbiter-data/).
    config.access = AccessConfiguration(required: false)
    config.bundle.watchInterval = nil
    config.store.directory = storeDirectory
    config.store.snapshotInterval = nil
    config.fixedClockDays = fixedClockDays
    config.bundle.path = bundlePath ?? demoBundlePath
    // Reloads and challengers in these tests come from temporary copies; ModelRootsTests checks
    // the roots themselves.
    config.bundle.modelRoots = [NSTemporaryDirectory(), (demoBundlePath as NSString).deletingLastPathComponent]
    config.store.customers = customers
    config.interactionLog.path = logPath
    config.adaptive.snapshotPath = nil
    config.grpc.port = 0
    // A debug build under the whole suite decides a pipelined burst far slower than a release
    // server: no shedding by time here but where a test sets it.
    config.lean.connections.maxQueueDelay = nil
    config.http.connections.maxQueueDelay = nil
    configure(&config)
    var logger = Logger(label: "arbiter-tests")
    logger.logLevel = .warning
    return try ArbiterServer(
      configuration: config, logger: logger,
      seedingEmptyStore: { [config] store, bundle throws(ArbiterError) in
        try DemoPopulation.seed(store, bundle: bundle, customers: config.store.customers, nowDays: config.clock())
      })
  }

  /// The committed bundle and an engine over `customers` demo customers.
  static func makeEngine(customers: Int = 3_000) throws -> DecisionEngine {
    try makeServer(customers: customers).live.snapshot.engine
  }

  /// Copies the committed bundle's newest version to a temporary bundle root, for tampering.
  static func copyOfDemoBundle() throws -> (root: String, version: String) {
    let root = try temporaryDirectory()
    let source = try ModelBundle.resolveVersionDirectory(demoBundlePath)
    let version = (source as NSString).lastPathComponent
    try FileManager.default.copyItem(atPath: source, toPath: root + "/" + version)
    return (root, root + "/" + version)
  }

  /// The HTTP door's port of `server` once `httpService(port: 0)` (started elsewhere) listens.
  static func httpPort(of server: ArbiterServer) async throws -> Int {
    for _ in 0..<1_000 {
      if let port = server.httpBoundPort { return port }
      try await Task.sleep(for: .milliseconds(10))
    }
    throw TestFailure("the HTTP door did not start listening within 10 s")
  }

  /// The lean-protocol port of `server` once `runLeanServer(port: 0)` (started elsewhere) listens.
  static func leanPort(of server: ArbiterServer) async throws -> Int {
    for _ in 0..<1_000 {
      if let port = server.leanBoundPort { return port }
      try await Task.sleep(for: .milliseconds(10))
    }
    throw TestFailure("the lean protocol did not start listening within 10 s")
  }
}

extension TestSupport {
  /// Records every consent (each channel and purpose) as given for `ids`, as a test whose
  /// customers are not the demo population's needs before they can be offered anything.
  static func consentToEverything(_ store: FeatureStore, ids: [UInt64]) throws {
    let changes = ids.flatMap { id in
      Channel.allCases.flatMap { channel in
        ConsentPurpose.allCases.map { purpose in
          ConsentChange(
            customerId: id,
            record: ConsentRecord(
              channel: channel, purpose: purpose, state: .given, timestampMillis: 0, source: "test"))
        }
      }
    }
    let result = store.recordConsents(changes)
    #expect(result.rejected == 0, "\(result.errors)")
  }

  /// Runs a program off the Swift pool and returns its standard output (a failure records its output).
  static func run(_ program: String, _ arguments: [String]) async throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: program)
    process.arguments = arguments
    let output = Pipe(), errors = Pipe()
    process.standardOutput = output
    process.standardError = errors
    let (status, text, problems) = try await withCheckedThrowingContinuation { continuation in
      Thread {
        do {
          try process.run()
          let data = output.fileHandleForReading.readDataToEndOfFile()
          let problems = errors.fileHandleForReading.readDataToEndOfFile()
          process.waitUntilExit()
          continuation.resume(
            returning: (
              process.terminationStatus, String(decoding: data, as: UTF8.self), String(decoding: problems, as: UTF8.self)
            ))
        } catch { continuation.resume(throwing: error) }
      }.start()
    }
    #expect(status == 0, "\(program) \(arguments): \(problems.suffix(3_000))")
    return text
  }
  /// Runs CPU-heavy work on a thread of its own and awaits it, so that the two threads of the
  /// cooperative pool stay free for the other tests' awaits (a long synchronous loop on the pool
  /// starves them into their time limits on a 2-core machine).
  static func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
      Thread { continuation.resume(with: Result { try body() }) }.start()
    }
  }
}
