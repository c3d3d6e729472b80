#if canImport(Glibc)
  import Glibc
#endif

/// How many connections a door keeps open at once, and how long one may stay silent before it is
/// closed (a client that connects and sends nothing, or stops half-way through a request, would
/// otherwise hold its descriptor for ever).
public struct ConnectionPolicy: Sendable, Equatable {
  /// The most connections open at once; nil: ``defaultMaxConnections(descriptors:)``.
  public var maxConnections: Int?
  /// How long a connection may pass nothing either way before it is closed; nil never.
  public var idleTimeout: Duration?

  /// A policy; by default a share of the descriptors and 5 minutes of silence.
  public init(maxConnections: Int? = nil, idleTimeout: Duration? = .seconds(300)) {
    self.maxConnections = maxConnections
    self.idleTimeout = idleTimeout
  }

  /// Descriptors kept for everything but the doors' connections: the store's files, the logs,
  /// the listeners, the load balancer's health checks.
  public static let reservedDescriptors = 1_024

  /// A door's default bound: a third of the descriptors left after ``reservedDescriptors``, so
  /// that the three doors together cannot use them all; at least 16.
  public static func defaultMaxConnections(descriptors: Int) -> Int {
    max(16, (descriptors - reservedDescriptors) / 3)
  }

  /// The process's descriptor limit, its soft limit raised to the hard one first.
  public static func descriptorLimit() -> Int {
    var limit = rlimit()
    guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1_024 }
    if limit.rlim_cur < limit.rlim_max {
      var raised = limit
      raised.rlim_cur = limit.rlim_max
      if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
    }
    return Int(min(limit.rlim_cur, 1 << 20))  // RLIM_INFINITY is the largest value
  }

  /// The bound this policy sets on a process with `descriptors`.
  public func limit(descriptors: Int) -> Int { maxConnections ?? Self.defaultMaxConnections(descriptors: descriptors) }
}
