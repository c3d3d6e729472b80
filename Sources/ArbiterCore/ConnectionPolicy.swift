#if canImport(Glibc)
  import Glibc
#endif

/// How many connections a door keeps open at once, how long one may stay silent before it is
/// closed (a client that connects and sends nothing, or stops half-way through a request, would
/// otherwise hold its descriptor for ever), and how many requests it works on at once (past
/// that, or once it has waited too long, a request is shed: answered RESOURCE_EXHAUSTED at once
/// instead of queueing).
public struct ConnectionPolicy: Sendable, Equatable {
  /// The most connections open at once; nil: ``defaultMaxConnections(descriptors:)``.
  public var maxConnections: Int?
  /// How long a connection may pass nothing either way before it is closed; nil never.
  public var idleTimeout: Duration?
  /// The most requests in flight at once, over all the door's connections: read and not yet
  /// answered. Streams a client keeps open (events, agents' screens, health watches,
  /// reflection) are not counted.
  public var maxInFlight: Int
  /// On the doors answered on their event loops (lean, and HTTP's Decide): how long a request
  /// may have waited since its event loop's pass over the ready connections began before it is
  /// shed at once; nil never sheds by time. Under overload the queue is in the sockets, or in
  /// the clients waiting for a free connection, where no count sees it: shedding what waited too
  /// long keeps each pass short, so that what is admitted is answered in time.
  public var maxQueueDelay: Duration?

  /// The default ``maxQueueDelay``: 10 ms, far beyond a decision's pass in normal running.
  public static let defaultMaxQueueDelay: Duration = .milliseconds(10)

  /// The default bound on requests in flight (256): deep enough for a load balancer's pipelined
  /// bursts, shallow enough that an admitted decision waits at most a few milliseconds behind it.
  public static let defaultMaxInFlight = 256

  /// A policy; by default a share of the descriptors, 5 minutes of silence and
  /// ``defaultMaxInFlight`` requests in flight.
  public init(
    maxConnections: Int? = nil, idleTimeout: Duration? = .seconds(300), maxInFlight: Int = defaultMaxInFlight,
    maxQueueDelay: Duration? = defaultMaxQueueDelay
  ) {
    self.maxConnections = maxConnections
    self.idleTimeout = idleTimeout
    self.maxInFlight = maxInFlight
    self.maxQueueDelay = maxQueueDelay
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
