import ArbiterAccess
import ArbiterCore
import ArbiterDecisioning
import ArbiterFeatureStore
import ArbiterHTTP

/// How an Arbiter server is set up: nested values, one per part, each with a default that
/// serves the bundled demo. A configuration file (``load(file:over:)``) sets any of them; the
/// server's flags override the file.
public struct ArbiterConfiguration: Sendable {
  /// The gRPC door.
  public struct GRPC: Sendable {
    /// Port; 0 picks a free one.
    public var port = 50051
    /// The largest request message accepted, in bytes; a larger one is refused with
    /// RESOURCE_EXHAUSTED naming this limit.
    public var maxMessageSize = 4 * 1024 * 1024
    /// How many connections it keeps and how long one may stay silent.
    public var connections = ConnectionPolicy()
    /// A gRPC door on `port`.
    public init(port: Int = 50051) { self.port = port }
  }

  /// The lean protocol's door (docs/lean-protocol.md).
  public struct Lean: Sendable {
    /// Port; 0 picks a free one, nil serves no lean protocol.
    public var port: Int? = 50052
    /// The largest frame accepted, in bytes.
    public var maxFrameSize = 4 * 1024 * 1024
    /// How many connections it keeps and how long one may stay silent.
    public var connections = ConnectionPolicy()
    /// A lean door on `port`.
    public init(port: Int? = 50052, maxFrameSize: Int = 4 * 1024 * 1024) {
      self.port = port
      self.maxFrameSize = maxFrameSize
    }
  }

  /// Where the model bundle comes from.
  public struct Bundle: Sendable {
    /// A bundle version directory, or a bundle root whose newest version is loaded.
    public var path = "models/demo"
    /// How often the root is looked at for a newer version; nil never.
    public var watchInterval: Duration? = .seconds(5)
    /// The directories Reload and SetChallenger may load bundles from; nil: the directory
    /// holding `path` (`models` for `models/demo`).
    public var modelRoots: [String]?
    /// The bundle at `path`.
    public init(path: String = "models/demo", watchInterval: Duration? = .seconds(5)) {
      self.path = path
      self.watchInterval = watchInterval
    }
  }

  /// The customer feature store.
  public struct Store: Sendable {
    /// Its directory (snapshot and update log); nil keeps customers in memory only, seeded from
    /// the bundle's population.
    public var directory: String? = "arbiter-data/store"
    /// When the update log is forced to disk.
    public var fsync: FsyncPolicy = .interval(milliseconds: 10)
    /// How often a background snapshot is taken (and the log compacted); nil never.
    public var snapshotInterval: Duration? = .seconds(600)
    /// For a generated population: how many customers to build (nil: as many as the bundle says).
    public var customers: Int?
    /// How far ahead of the server clock an event's time may be; later ones are refused.
    public var maxEventSkew: Duration = FeatureStore.defaultMaxEventSkew
    /// A store in `directory`.
    public init(directory: String? = "arbiter-data/store") { self.directory = directory }
  }

  /// The interaction log: every decision and outcome, and the rings outcomes and the contact
  /// policy read.
  public struct InteractionLog: Sendable {
    /// The JSON-lines file; nil keeps the log in memory only.
    public var path: String? = "arbiter-data/interactions.jsonl"
    /// How often buffered decision lines are written, so that a crash loses at most this much;
    /// nil only when the buffer fills or at shutdown.
    public var flushInterval: Duration? = .milliseconds(200)
    /// How many recent decisions outcomes may refer to.
    public var decisionMemory = 1_000_000
    /// How many offers of those decisions are held (4 bytes each); a decision is remembered while
    /// its offers are. nil: eight per remembered decision.
    public var offerMemory: Int?
    /// How many offers and outcomes (all customers together) the contact policy can look back
    /// on; 40 bytes each. Size it for the policy's longest window at the expected traffic.
    public var historyMemory = 4_000_000
    /// How many bytes of decline reasons are kept in memory (the oldest dropped first).
    public var declineReasonMemory = 16 << 20
    /// How far ahead of the server clock (or before its decision) an outcome's time may be.
    public var maxOutcomeSkew: Duration = .seconds(300)
    /// A log written to `path`.
    public init(path: String? = "arbiter-data/interactions.jsonl") { self.path = path }
  }

  /// Quota and channel capacity use.
  public struct Pacing: Sendable {
    /// How often use is written to the store directory, so that a restart continues it; nil
    /// only at shutdown.
    public var checkpointInterval: Duration? = .milliseconds(200)
    /// Pacing checkpointed every `checkpointInterval`.
    public init(checkpointInterval: Duration? = .milliseconds(200)) { self.checkpointInterval = checkpointInterval }
  }

  /// TLS on the doors, from PEM files: the server's certificate chain and key, and optionally the
  /// authority whose client certificates are required (mutual TLS).
  public struct TLS: Sendable, Equatable {
    /// The doors it covers.
    public enum Door: String, Sendable, CaseIterable {
      case grpc, lean, http
    }
    /// The server's certificate, then any intermediates (PEM).
    public var certificateChain: String
    /// The certificate's private key (PEM).
    public var privateKey: String
    /// When set, every client must present a certificate signed by this authority (PEM; mTLS).
    public var clientCertificateAuthority: String?
    /// The doors served over TLS (the others stay plaintext); by default all three.
    public var doors: Set<Door> = Set(Door.allCases)

    /// TLS with `certificateChain` and `privateKey`, client certificates from
    /// `clientCertificateAuthority` when given.
    public init(certificateChain: String, privateKey: String, clientCertificateAuthority: String? = nil) {
      self.certificateChain = certificateChain
      self.privateKey = privateKey
      self.clientCertificateAuthority = clientCertificateAuthority
    }
  }

  /// OpenTelemetry tracing: a span per request, exported over OTLP/gRPC.
  public struct Tracing: Sendable, Equatable {
    /// The collector's OTLP/gRPC address, e.g. `http://127.0.0.1:4317`.
    public var endpoint: String
    /// The `service.name` spans carry.
    public var serviceName = "arbiter"
    /// The share of requests without a caller's decision that are traced, in [0, 1]; a caller's
    /// sampled `traceparent` is always followed.
    public var sampleRatio = 1.0
    /// How long finished spans wait to be sent in a batch.
    public var exportInterval: Duration = .seconds(1)
    /// Tracing to the collector at `endpoint`.
    public init(endpoint: String) { self.endpoint = endpoint }
  }

  /// Host every door binds to.
  public var host = "127.0.0.1"
  /// OpenTelemetry tracing; nil (the default) traces nothing.
  public var tracing: Tracing?
  /// TLS on the doors; nil serves them in plaintext.
  public var tls: TLS?
  /// The gRPC door.
  public var grpc = GRPC()
  /// The lean protocol's door.
  public var lean = Lean()
  /// The HTTP/JSON door (websites, the console, the dashboard).
  public var http = HTTPDoorConfiguration()
  /// The model bundle and how it is watched.
  public var bundle = Bundle()
  /// The customer feature store.
  public var store = Store()
  /// The interaction log and its rings.
  public var interactionLog = InteractionLog()
  /// Quota and capacity use across restarts.
  public var pacing = Pacing()
  /// When Promote lets a challenger go live.
  public var promotion = PromotionGate.Configuration()
  /// Where and how often the adaptive models are kept (when the catalogue has them).
  public var adaptive = Adaptive()

  /// The adaptive models' durability and sweep.
  public struct Adaptive: Sendable {
    /// The snapshot file; nil keeps the models in memory only (a restart starts from the priors).
    public var snapshotPath: String? = "arbiter-data/adaptive.json"
    /// How often the models are written (and at shutdown).
    public var snapshotInterval: Duration = .seconds(30)
    /// How often offers without an outcome past their response window are learnt as no response.
    public var sweepInterval: Duration = .seconds(1)
    /// The snapshot at `snapshotPath`.
    public init(snapshotPath: String? = "arbiter-data/adaptive.json") { self.snapshotPath = snapshotPath }
  }
  /// Who may call (API keys, token keys, the credentials made on first start); by default
  /// credentials are required (``AccessConfiguration/serverDefault``).
  public var access = AccessConfiguration.serverDefault
  /// A fixed "now" in days since the epoch for reading derived features (tests, replays); nil
  /// uses the wall clock.
  public var fixedClockDays: Double?

  /// The defaults: the bundled demo on loopback.
  public init() {}
}

extension ArbiterConfiguration {
  /// The clock decisions read derived features at.
  public var clock: @Sendable () -> Double {
    if let fixed = fixedClockDays { return { fixed } }
    return { FeatureStore.nowDays }
  }
}
