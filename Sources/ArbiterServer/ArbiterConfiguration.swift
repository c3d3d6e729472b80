import ArbiterFeatureStore

/// How an Arbiter server is set up. Every value has a default that serves the bundled demo.
public struct ArbiterConfiguration: Sendable {
  /// Host the gRPC listener binds to.
  public var host = "127.0.0.1"
  /// gRPC port; 0 picks a free one.
  public var grpcPort = 50051
  /// Lean-protocol port (docs/lean-protocol.md); 0 picks a free one, nil serves gRPC only.
  public var leanPort: Int? = 50052
  /// The largest lean-protocol frame accepted, in bytes.
  public var maxFrameSize = 4 * 1024 * 1024
  /// A bundle version directory, or a bundle root whose newest version is loaded.
  public var bundlePath = "models/demo"
  /// For a generated population: how many customers to build (nil: as many as the bundle says).
  public var customers: Int?
  /// The feature store's directory (snapshot and update log); nil keeps customers in memory
  /// only, seeded from the bundle's population.
  public var storeDirectory: String? = "arbiter-data/store"
  /// When the update log is forced to disk.
  public var fsyncPolicy: FsyncPolicy = .interval(milliseconds: 10)
  /// How far ahead of the server clock an event may be dated; later ones are refused.
  public var maxEventSkew: Duration = FeatureStore.defaultMaxEventSkew
  /// A fixed "now" in days since the epoch for reading derived features (tests, replays); nil
  /// uses the wall clock.
  public var fixedClockDays: Double?
  /// How often to look for a newer bundle version under `bundlePath` (seconds); nil never.
  public var bundleWatchSeconds: Double? = 5
  /// How often a background snapshot is taken (and the log compacted); nil never.
  public var snapshotIntervalSeconds: Double? = 600
  /// The interaction log file; nil keeps the log in memory only.
  public var interactionLogPath: String? = "arbiter-data/interactions.jsonl"
  /// How often buffered decision lines are written to the interaction log file (seconds), so
  /// that a crash loses at most this much; nil only when the buffer fills or at shutdown.
  public var logFlushSeconds: Double? = 0.2
  /// How often quota and capacity use is written to the store directory (seconds), so that a
  /// restart continues it; nil only at shutdown.
  public var pacingCheckpointSeconds: Double? = 0.2
  /// How many recent decisions outcomes may refer to.
  public var decisionMemory = 1_000_000
  /// How many offers of those decisions are held (4 bytes each); a decision is remembered while
  /// its offers are. nil: eight per remembered decision.
  public var offerMemory: Int?
  /// How many offers and outcomes (all customers together) the contact policy can look back
  /// on; 40 bytes each. Size it for the policy's longest window at the expected traffic.
  public var historyMemory = 4_000_000

  public init() {}
}

extension ArbiterConfiguration {
  /// The clock decisions read derived features at.
  public var clock: @Sendable () -> Double {
    if let fixed = fixedClockDays { return { fixed } }
    return { FeatureStore.nowDays }
  }
}
