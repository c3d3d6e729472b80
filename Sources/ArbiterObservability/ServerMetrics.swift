import Prometheus

/// A server's metrics: the requests its doors record and the figures copied in when `/metrics`
/// is scraped, in one Prometheus registry of its own (so that two servers in one process, as in
/// the tests, do not mix their figures).
public final class ServerMetrics: Sendable {
  /// Requests by door, method and status, and their latency.
  public let requests: RequestMetrics
  /// What the server keeps anyway, copied in per scrape.
  public let scraped: ScrapedMetrics
  /// Each door's open connections, bounded.
  public let connections: [ConnectionCounter]
  /// Each door's requests in flight, bounded.
  public let inFlight: [InFlightLimit]

  /// Metrics in a new registry, with the doors' connections counted by `connections` and their
  /// requests in flight by `inFlight`.
  public init(connections: [ConnectionCounter] = [], inFlight: [InFlightLimit] = []) {
    let registry = PrometheusCollectorRegistry()
    requests = RequestMetrics(registry: registry)
    scraped = ScrapedMetrics(registry: registry)
    self.connections = connections
    self.inFlight = inFlight
  }

  /// The counter of `door`'s connections.
  public func connections(of door: String) -> ConnectionCounter? { connections.first { $0.door == door } }

  /// The bound on `door`'s requests in flight.
  public func inFlight(of door: String) -> InFlightLimit? { inFlight.first { $0.door == door } }

  /// The registry in Prometheus' text format (without the scrape-time copy: see the HTTP door).
  public func render() -> [UInt8] { requests.registry.emitToBuffer() }
}
