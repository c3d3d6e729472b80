import ArbiterAccess
import ArbiterCore
import ArbiterDecisioning
import ArbiterFeatureStore
import ArbiterHTTP
import Foundation
import Yams

extension ArbiterConfiguration {
  /// Reads a configuration file (YAML) over `base`: every key it sets replaces that value, the
  /// rest keep theirs. Unknown keys and bad values are refused naming the file, line and key.
  ///
  /// ```yaml
  /// host: 127.0.0.1
  /// grpc: {port: 50051, max-message-size: 4194304}   # a larger request: RESOURCE_EXHAUSTED
  /// lean: {port: 50052, max-frame-size: 4194304}     # port: off serves no lean protocol
  /// #   max-connections: auto                        # each door: a number, or a third of the descriptors
  /// #   idle-timeout: 5m                             # each door: closes a connection silent this long; off
  /// #   max-in-flight: 256                           # each door: requests worked on at once; more are shed
/// #   max-queue-delay: 10ms                        # lean, http: shed what waited this long on its event loop; off
  /// bundle: {path: models/demo, watch-interval: 5s}  # watch-interval: off never looks
  /// #   model-roots: [models]                        # where Reload and SetChallenger may load from
  /// store:
  ///   directory: arbiter-data/store                  # none: in memory only
  ///   fsync: 10ms                                    # or always
  ///   snapshot-interval: 10m
  ///   customers: 100000
  ///   max-event-skew: 5m
  /// interaction-log:
  ///   path: arbiter-data/interactions.jsonl          # none: in memory only
  ///   flush-interval: 200ms
  ///   decision-memory: 1000000
  ///   offer-memory: 8000000
  ///   history-memory: 4000000
  ///   decline-reason-memory: 16777216
  ///   max-outcome-skew: 5m
  /// pacing: {checkpoint-interval: 200ms}
  /// promotion:                                       # Promote: a challenger goes live only on evidence
  ///   margin: 0.0                                    # its DR lower bound must beat the champion by this
  ///   minimum-decisions: 1000                        # settled decisions with a shadow decision
  ///   recent-log-bytes: 268435456                    # the end of the interaction log that is read
  ///   window: 14d                                    # how long after a decision a response counts
  ///   reward: response                               # or value (the response times the offer's value)
  ///   require-support: true                          # refuse when the champion never explores
  /// adaptive:                                        # the adaptive models (catalogue "adaptive" section)
  ///   snapshot-path: arbiter-data/adaptive.json      # none: kept in memory only
  ///   snapshot-interval: 30s
  ///   sweep-interval: 1s                             # learning "no response" when a window closes
  /// access:
  ///   required: true                                 # false: every call is let through (loopback only)
  ///   admin-token-file: arbiter-data/admin-token     # made on first start; none: no admin token
  ///   site-key-file: arbiter-data/site-key           # made on first start (decide only); none: no site key
  ///   audit-log: arbiter-data/audit.jsonl            # admin actions, appended; none: in memory only
  ///   api-keys:
  ///     - {name: web-frontend, key: "at least 16 characters", roles: [decide]}
  ///   token-keys:                                    # what bearer tokens (JWT) are signed with
  ///     - {id: hs-1, hs256: "a secret of at least 32 bytes"}     # or hs384, hs512
  ///     - {id: ed-1, eddsa: "the Ed25519 public key's x, base64url"}
  /// tracing:                                         # absent: nothing traced (OpenTelemetry, OTLP/gRPC)
  ///   endpoint: http://127.0.0.1:4317
  ///   service-name: arbiter
  ///   sample-ratio: 1.0                              # of requests without a sampled traceparent
  ///   export-interval: 1s
  /// tls:                                             # absent: every door in plaintext
  ///   certificate-chain: /etc/arbiter/server.pem     # the server's certificate, then intermediates
  ///   private-key: /etc/arbiter/server-key.pem
  ///   client-ca: /etc/arbiter/clients-ca.pem         # optional: client certificates required (mTLS)
  ///   doors: [grpc, lean, http]                      # optional: the doors over TLS (default all)
  /// ```
  public static func load(
    file path: String, over base: ArbiterConfiguration = ArbiterConfiguration()
  ) throws(ArbiterError)
    -> ArbiterConfiguration
  {
    let text: String
    do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
      throw ArbiterError(.invalidArgument, "cannot read the configuration file \(path): \(error.localizedDescription)")
    }
    return try parse(text, file: path, over: base)
  }

  /// Reads configuration text (see ``load(file:over:)``); `file` names it in errors.
  public static func parse(
    _ text: String, file: String, over base: ArbiterConfiguration = ArbiterConfiguration()
  )
    throws(ArbiterError) -> ArbiterConfiguration
  {
    let root: Node?
    do { root = try Yams.compose(yaml: text) } catch {
      throw ArbiterError(.invalidArgument, "\(file): not YAML: \(error)")
    }
    var configuration = base
    guard let root else { return configuration }
    var reader = ConfigurationFileReader(file: file)
    try reader.read(root, into: &configuration)
    return configuration
  }
}

/// Walks a configuration file's YAML, section by section, into an ``ArbiterConfiguration``.
struct ConfigurationFileReader {
  let file: String

  /// "arbiter.yaml line 7, store.fsync".
  private func at(_ node: Node, _ key: String) -> String {
    node.mark.map { "\(file) line \($0.line), \(key)" } ?? "\(file), \(key)"
  }

  private func invalid(_ node: Node, _ key: String, _ problem: String) -> ArbiterError {
    ArbiterError(.invalidArgument, "\(at(node, key)): \(problem)")
  }

  /// The mapping's entries by key; refuses keys not in `known`.
  private func entries(_ node: Node, _ key: String, known: Set<String>) throws(ArbiterError) -> [(String, Node)] {
    guard let mapping = node.mapping else { throw invalid(node, key, "must be a mapping of keys to values") }
    var result: [(String, Node)] = []
    for (name, value) in mapping {
      guard let text = name.string else { throw invalid(name, key, "keys must be text") }
      let path = key.isEmpty ? text : "\(key).\(text)"
      guard known.contains(text) else {
        throw invalid(name, path, "unknown key (known here: \(known.sorted().joined(separator: ", ")))")
      }
      result.append((text, value))
    }
    return result
  }

  mutating func read(_ root: Node, into configuration: inout ArbiterConfiguration) throws(ArbiterError) {
    let sections: Set<String> = [
      "host", "grpc", "lean", "http", "bundle", "store", "interaction-log", "pacing", "access", "tls", "tracing",
      "promotion", "adaptive",
    ]
    for (name, node) in try entries(root, "", known: sections) {
      switch name {
      case "host": configuration.host = try text(node, "host")
      case "grpc": try readGRPC(node, into: &configuration.grpc)
      case "lean": try readLean(node, into: &configuration.lean)
      case "http": try readHTTP(node, into: &configuration.http)
      case "bundle": try readBundle(node, into: &configuration.bundle)
      case "store": try readStore(node, into: &configuration.store)
      case "interaction-log": try readLog(node, into: &configuration.interactionLog)
      case "access": try readAccess(node, into: &configuration.access)
      case "tls": configuration.tls = try readTLS(node)
      case "tracing": configuration.tracing = try readTracing(node)
      case "promotion": try readPromotion(node, into: &configuration.promotion)
      case "adaptive": try readAdaptive(node, into: &configuration.adaptive)
      default: try readPacing(node, into: &configuration.pacing)
      }
    }
  }

  private func readGRPC(_ node: Node, into grpc: inout ArbiterConfiguration.GRPC) throws(ArbiterError) {
    for (name, value) in try entries(
      node, "grpc", known: ["port", "max-message-size", "max-connections", "idle-timeout", "max-in-flight"])
    {
      if name == "port" {
        grpc.port = try port(value, "grpc.port")
      } else if name == "max-message-size" {
        grpc.maxMessageSize = try integer(value, "grpc.max-message-size", atLeast: 1_024)
      } else {
        try readConnections(name, value, "grpc", into: &grpc.connections)
      }
    }
  }

  private func readLean(_ node: Node, into lean: inout ArbiterConfiguration.Lean) throws(ArbiterError) {
    for (name, value) in try entries(
      node, "lean",
      known: ["port", "max-frame-size", "max-connections", "idle-timeout", "max-in-flight", "max-queue-delay"])
    {
      switch name {
      case "port": lean.port = value.string == "off" ? nil : try port(value, "lean.port")
      case "max-frame-size": lean.maxFrameSize = try integer(value, "lean.max-frame-size", atLeast: 1_024)
      default: try readConnections(name, value, "lean", into: &lean.connections)
      }
    }
  }

  /// A door's `max-connections` (a number, or `auto` for a share of the descriptors),
  /// `idle-timeout` (a duration, or `off`), `max-in-flight` (a number) or `max-queue-delay` (a
  /// duration, or `off`; the lean and HTTP doors only).
  private func readConnections(
    _ name: String, _ value: Node, _ door: String, into policy: inout ConnectionPolicy
  ) throws(ArbiterError) {
    let key = "\(door).\(name)"
    if name == "max-connections" {
      policy.maxConnections = value.string == "auto" ? nil : try integer(value, key, atLeast: 1)
    } else if name == "max-in-flight" {
      policy.maxInFlight = try integer(value, key, atLeast: 1)
    } else if name == "max-queue-delay" {
      policy.maxQueueDelay = try interval(value, key)
    } else {
      policy.idleTimeout = try interval(value, key)
    }
  }

  private func readHTTP(_ node: Node, into http: inout HTTPDoorConfiguration) throws(ArbiterError) {
    let known: Set<String> = [
      "port", "max-body-bytes", "cors-origins", "web-root", "max-connections", "idle-timeout", "max-in-flight",
      "max-queue-delay",
    ]
    for (name, value) in try entries(node, "http", known: known) {
      let key = "http.\(name)"
      switch name {
      case "port": http.port = value.string == "off" ? nil : try port(value, key)
      case "max-body-bytes": http.maxBodyBytes = try integer(value, key, atLeast: 1_024)
      case "cors-origins":
        guard let list = value.sequence else { throw invalid(value, key, "must be a list of origins") }
        http.corsOrigins = try list.map { (item: Node) throws(ArbiterError) in try text(item, key) }
      case "web-root": http.webRoot = try text(value, key)
      default: try readConnections(name, value, "http", into: &http.connections)
      }
    }
  }

  private func readBundle(_ node: Node, into bundle: inout ArbiterConfiguration.Bundle) throws(ArbiterError) {
    for (name, value) in try entries(node, "bundle", known: ["path", "watch-interval", "model-roots"]) {
      switch name {
      case "path": bundle.path = try text(value, "bundle.path")
      case "model-roots":
        let roots = try list(value, "bundle.model-roots").map { (item: Node) throws(ArbiterError) in
          try text(item, "bundle.model-roots")
        }
        guard !roots.isEmpty else { throw invalid(value, "bundle.model-roots", "must name at least one directory") }
        bundle.modelRoots = roots
      default: bundle.watchInterval = try interval(value, "bundle.watch-interval")
      }
    }
  }

  private func readStore(_ node: Node, into store: inout ArbiterConfiguration.Store) throws(ArbiterError) {
    let known: Set<String> = ["directory", "fsync", "snapshot-interval", "customers", "max-event-skew"]
    for (name, value) in try entries(node, "store", known: known) {
      let key = "store.\(name)"
      switch name {
      case "directory": store.directory = try optionalPath(value, key)
      case "fsync":
        guard let policy = FsyncPolicy(value.string?.replacingOccurrences(of: "ms", with: "") ?? "") else {
          throw invalid(
            value, key, "must be 'always' or a number of milliseconds like 10ms, got '\(value.string ?? "")'")
        }
        store.fsync = policy
      case "snapshot-interval": store.snapshotInterval = try interval(value, key)
      case "customers": store.customers = try integer(value, key, atLeast: 1)
      default: store.maxEventSkew = try duration(value, key)
      }
    }
  }

  private func readLog(_ node: Node, into log: inout ArbiterConfiguration.InteractionLog) throws(ArbiterError) {
    let known: Set<String> = [
      "path", "flush-interval", "decision-memory", "offer-memory", "history-memory", "decline-reason-memory",
      "max-outcome-skew",
    ]
    for (name, value) in try entries(node, "interaction-log", known: known) {
      let key = "interaction-log.\(name)"
      switch name {
      case "path": log.path = try optionalPath(value, key)
      case "flush-interval": log.flushInterval = try interval(value, key)
      case "decision-memory": log.decisionMemory = try integer(value, key, atLeast: 1)
      case "offer-memory": log.offerMemory = try integer(value, key, atLeast: 1)
      case "history-memory": log.historyMemory = try integer(value, key, atLeast: 1)
      case "decline-reason-memory": log.declineReasonMemory = try integer(value, key, atLeast: 0)
      default: log.maxOutcomeSkew = try duration(value, key)
      }
    }
  }

  private func readAdaptive(_ node: Node, into adaptive: inout ArbiterConfiguration.Adaptive) throws(ArbiterError) {
    for (name, value) in try entries(node, "adaptive", known: ["snapshot-path", "snapshot-interval", "sweep-interval"]) {
      let key = "adaptive.\(name)"
      switch name {
      case "snapshot-path": adaptive.snapshotPath = try optionalPath(value, key)
      case "snapshot-interval": adaptive.snapshotInterval = try duration(value, key)
      default: adaptive.sweepInterval = try duration(value, key)
      }
    }
  }

  private func readPromotion(_ node: Node, into gate: inout PromotionGate.Configuration) throws(ArbiterError) {
    let known: Set<String> = ["margin", "minimum-decisions", "recent-log-bytes", "window", "reward", "require-support"]
    for (name, value) in try entries(node, "promotion", known: known) {
      let key = "promotion.\(name)"
      switch name {
      case "margin":
        guard let margin = value.scalar.flatMap({ Double($0.string) }), margin.isFinite else {
          throw invalid(value, key, "must be a number (the reward per decision)")
        }
        gate.margin = margin
      case "minimum-decisions": gate.minimumRounds = try integer(value, key, atLeast: 1)
      case "recent-log-bytes": gate.recentBytes = try integer(value, key, atLeast: 4_096)
      case "window": gate.window = try duration(value, key)
      case "reward":
        guard let reward = value.string.flatMap(LoggedPolicyRounds.Reward.init(rawValue:)) else {
          throw invalid(value, key, "must be response or value")
        }
        gate.reward = reward
      default:
        guard let flag = value.bool else { throw invalid(value, key, "must be true or false") }
        gate.requireSupport = flag
      }
    }
  }

  private func readPacing(_ node: Node, into pacing: inout ArbiterConfiguration.Pacing) throws(ArbiterError) {
    for (_, value) in try entries(node, "pacing", known: ["checkpoint-interval"]) {
      pacing.checkpointInterval = try interval(value, "pacing.checkpoint-interval")
    }
  }

  private func readTracing(_ node: Node) throws(ArbiterError) -> ArbiterConfiguration.Tracing {
    var tracing = ArbiterConfiguration.Tracing(endpoint: "")
    for (name, value) in try entries(
      node, "tracing", known: ["endpoint", "service-name", "sample-ratio", "export-interval"])
    {
      let field = "tracing.\(name)"
      switch name {
      case "endpoint": tracing.endpoint = try text(value, field)
      case "service-name": tracing.serviceName = try text(value, field)
      case "sample-ratio":
        guard let ratio = value.scalar.flatMap({ Double($0.string) }), ratio >= 0, ratio <= 1 else {
          throw invalid(value, field, "must be a number from 0 to 1, got '\(value.string ?? "")'")
        }
        tracing.sampleRatio = ratio
      default:
        guard let interval = try self.interval(value, field) else {
          throw invalid(value, field, "must be a duration such as 1s")
        }
        tracing.exportInterval = interval
      }
    }
    guard !tracing.endpoint.isEmpty else {
      throw invalid(
        node, "tracing", "needs an endpoint (the collector's OTLP/gRPC address, e.g. http://127.0.0.1:4317)")
    }
    return tracing
  }

  private func readTLS(_ node: Node) throws(ArbiterError) -> ArbiterConfiguration.TLS {
    var chain: String?, key: String?, authority: String?
    var doors = Set(ArbiterConfiguration.TLS.Door.allCases)
    for (name, value) in try entries(node, "tls", known: ["certificate-chain", "private-key", "client-ca", "doors"]) {
      let field = "tls.\(name)"
      switch name {
      case "certificate-chain": chain = try text(value, field)
      case "private-key": key = try text(value, field)
      case "client-ca": authority = try optionalPath(value, field)
      default:
        doors = []
        for item in try list(value, field) {
          guard let door = ArbiterConfiguration.TLS.Door(rawValue: try text(item, field)) else {
            throw invalid(item, field, "must name doors among grpc, lean and http, got '\(item.string ?? "")'")
          }
          doors.insert(door)
        }
      }
    }
    guard let chain, let key else {
      throw invalid(node, "tls", "needs both certificate-chain and private-key (PEM files)")
    }
    var tls = ArbiterConfiguration.TLS(certificateChain: chain, privateKey: key, clientCertificateAuthority: authority)
    tls.doors = doors
    return tls
  }

  private func readAccess(_ node: Node, into access: inout AccessConfiguration) throws(ArbiterError) {
    for (name, value) in try entries(
      node, "access",
      known: [
        "required", "api-keys", "token-keys", "admin-token-file", "site-key-file", "audit-log",
      ])
    {
      let key = "access.\(name)"
      switch name {
      case "required":
        guard let flag = value.bool else { throw invalid(value, key, "must be true or false") }
        access.required = flag
      case "admin-token-file": access.adminTokenFile = try optionalPath(value, key)
      case "site-key-file": access.siteKeyFile = try optionalPath(value, key)
      case "audit-log": access.auditLog = try optionalPath(value, key)
      case "api-keys":
        access.apiKeys = try list(value, key).enumerated().map { (i, item) throws(ArbiterError) in
          try readAPIKey(item, "\(key)[\(i)]")
        }
      default:
        access.tokenKeys = try list(value, key).enumerated().map { (i, item) throws(ArbiterError) in
          try readTokenKey(item, "\(key)[\(i)]")
        }
      }
    }
  }

  private func readAPIKey(_ node: Node, _ key: String) throws(ArbiterError) -> AccessConfiguration.APIKey {
    var name: String?, secret: String?, roles: Role?
    for (field, value) in try entries(node, key, known: ["name", "key", "roles"]) {
      switch field {
      case "name": name = try text(value, "\(key).name")
      case "key": secret = try text(value, "\(key).key")
      default:
        let names = try list(value, "\(key).roles").map { (item: Node) throws(ArbiterError) in
          try text(item, "\(key).roles")
        }
        do { roles = try Role(names: names) } catch { throw invalid(value, "\(key).roles", error.message) }
      }
    }
    guard let name, let secret, let roles else { throw invalid(node, key, "needs a name, a key and roles") }
    return AccessConfiguration.APIKey(name: name, key: secret, roles: roles)
  }

  private func readTokenKey(_ node: Node, _ key: String) throws(ArbiterError) -> AccessConfiguration.TokenKey {
    var id: String?
    var algorithm: AccessConfiguration.TokenKey.Algorithm?
    for (field, value) in try entries(node, key, known: ["id", "hs256", "hs384", "hs512", "eddsa"]) {
      let material = "\(key).\(field)"
      switch field {
      case "id": id = try text(value, material)
      case "hs256": algorithm = .hs256(secret: try text(value, material))
      case "hs384": algorithm = .hs384(secret: try text(value, material))
      case "hs512": algorithm = .hs512(secret: try text(value, material))
      default: algorithm = .eddsa(publicKey: try text(value, material))
      }
    }
    guard let algorithm else { throw invalid(node, key, "needs one of hs256, hs384, hs512 or eddsa") }
    return AccessConfiguration.TokenKey(id: id, algorithm: algorithm)
  }

  // MARK: values

  private func list(_ node: Node, _ key: String) throws(ArbiterError) -> [Node] {
    guard let items = node.sequence else { throw invalid(node, key, "must be a list") }
    return Array(items)
  }

  private func text(_ node: Node, _ key: String) throws(ArbiterError) -> String {
    guard let scalar = node.scalar, !scalar.string.isEmpty else { throw invalid(node, key, "must be text") }
    return scalar.string
  }

  /// A path, or nil for `none`.
  private func optionalPath(_ node: Node, _ key: String) throws(ArbiterError) -> String? {
    let path = try text(node, key)
    return path == "none" ? nil : path
  }

  private func integer(_ node: Node, _ key: String, atLeast minimum: Int) throws(ArbiterError) -> Int {
    guard let value = node.scalar.flatMap({ Int($0.string.replacingOccurrences(of: "_", with: "")) }), value >= minimum
    else {
      throw invalid(node, key, "must be a whole number of at least \(minimum), got '\(node.string ?? "")'")
    }
    return value
  }

  private func port(_ node: Node, _ key: String) throws(ArbiterError) -> Int {
    let value = try integer(node, key, atLeast: 0)
    guard value <= 65_535 else { throw invalid(node, key, "must be a port number (0 picks a free one), got \(value)") }
    return value
  }

  private func duration(_ node: Node, _ key: String) throws(ArbiterError) -> Duration {
    guard let text = node.string, let value = DurationText.parse(text) else {
      throw invalid(node, key, "must be a duration like 250ms, 30s, 5m or 2h, got '\(node.string ?? "")'")
    }
    return value
  }

  /// A duration, or nil for `off` (or 0).
  private func interval(_ node: Node, _ key: String) throws(ArbiterError) -> Duration? {
    if node.string == "off" { return nil }
    let value = try duration(node, key)
    return value == .zero ? nil : value
  }
}
