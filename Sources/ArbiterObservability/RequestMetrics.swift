import CoreMetrics
import Prometheus
import Synchronization

/// Requests by door, method and status (`arbiter_requests_total`) and their latency per door and
/// method (`arbiter_request_duration_seconds`, a histogram), as swift-metrics counters and timers
/// on a Prometheus registry of the server's own (``registry``, which `/metrics` renders). A door
/// asks once per method for its ``MethodMetrics`` (a lookup under a lock) and then records each
/// request with an atomic increment and a histogram update.
public final class RequestMetrics: Sendable {
  /// Where every metric of the server is registered; rendered at `/metrics`.
  public let registry: PrometheusCollectorRegistry
  let factory: PrometheusMetricsFactory
  private let byMethod = Mutex<[String: MethodMetrics]>([:])

  /// The latency histogram's buckets: 25 µs to 2.5 s, for doors whose decisions take tens of
  /// microseconds and calls that wait for the disk.
  public static let latencyBuckets: [Duration] = [
    .microseconds(25), .microseconds(50), .microseconds(100), .microseconds(250), .microseconds(500),
    .milliseconds(1), .microseconds(2_500), .milliseconds(5), .milliseconds(10), .milliseconds(25),
    .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1),
    .milliseconds(2_500),
  ]

  /// Metrics registered in `registry`.
  public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
    self.registry = registry
    var factory = PrometheusMetricsFactory(registry: registry)
    factory.durationHistogramBuckets = ["arbiter_request_duration_seconds": Self.latencyBuckets]
    self.factory = factory
  }

  /// The metrics of `method` on `door` (made the first time they are asked for).
  public func method(door: String, method: String) -> MethodMetrics {
    let key = door + " " + method
    return byMethod.withLock { known in
      if let metrics = known[key] { return metrics }
      let metrics = MethodMetrics(door: door, method: method, factory: factory)
      known[key] = metrics
      return metrics
    }
  }
}

/// One door's method: its request counter per status and its latency histogram.
public final class MethodMetrics: Sendable {
  let door: String, method: String
  let factory: PrometheusMetricsFactory
  let succeeded: CoreMetrics.Counter
  let duration: CoreMetrics.Timer
  private let failed = Mutex<[String: CoreMetrics.Counter]>([:])

  init(door: String, method: String, factory: PrometheusMetricsFactory) {
    self.door = door
    self.method = method
    self.factory = factory
    succeeded = CoreMetrics.Counter(
      label: "arbiter_requests_total", dimensions: [("door", door), ("method", method), ("code", "OK")],
      factory: factory)
    duration = CoreMetrics.Timer(
      label: "arbiter_request_duration_seconds", dimensions: [("door", door), ("method", method)], factory: factory)
  }

  /// Records one request answered with gRPC status `code` (0 OK) after `nanoseconds`.
  public func record(code: Int, nanoseconds: UInt64) {
    duration.recordNanoseconds(Int64(clamping: nanoseconds))
    guard code != 0 else {
      succeeded.increment()
      return
    }
    counter(named: MethodMetrics.codeNames[code] ?? "UNKNOWN").increment()
  }

  /// Records one HTTP request answered with `status` (an HTTP status code, e.g. "404").
  public func record(httpStatus status: Int, nanoseconds: UInt64) {
    duration.recordNanoseconds(Int64(clamping: nanoseconds))
    counter(named: String(status)).increment()
  }

  private func counter(named code: String) -> CoreMetrics.Counter {
    failed.withLock { known in
      if let counter = known[code] { return counter }
      let counter = CoreMetrics.Counter(
        label: "arbiter_requests_total", dimensions: [("door", door), ("method", method), ("code", code)],
        factory: factory)
      known[code] = counter
      return counter
    }
  }

  /// gRPC's status codes by number, as google.rpc.Code names them.
  static let codeNames: [Int: String] = [
    0: "OK", 1: "CANCELLED", 2: "UNKNOWN", 3: "INVALID_ARGUMENT", 4: "DEADLINE_EXCEEDED", 5: "NOT_FOUND",
    6: "ALREADY_EXISTS", 7: "PERMISSION_DENIED", 8: "RESOURCE_EXHAUSTED", 9: "FAILED_PRECONDITION", 10: "ABORTED",
    11: "OUT_OF_RANGE", 12: "UNIMPLEMENTED", 13: "INTERNAL", 14: "UNAVAILABLE", 15: "DATA_LOSS", 16: "UNAUTHENTICATED",
  ]
}
