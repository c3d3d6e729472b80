import Prometheus
import Synchronization

/// Metrics whose values the server already keeps (decisions per channel, offers and outcomes,
/// suppressions, pacing, the store), copied into the Prometheus registry when `/metrics` is
/// scraped, so that the request path pays nothing for them: a counter is advanced by what its
/// source grew since the last scrape, a gauge set. Gauges not set in a scrape (a bundle version
/// no longer live) are removed at ``finish()``.
public final class ScrapedMetrics: Sendable {
  let registry: PrometheusCollectorRegistry
  private struct Key: Hashable {
    var name: String
    var labels: [String]
  }
  private struct State {
    var counters: [Key: (counter: Prometheus.Counter, total: UInt64)] = [:]
    var gauges: [Key: Prometheus.Gauge] = [:]
    var setThisScrape = Set<Key>()
  }
  private let state = Mutex(State())

  /// Metrics mirrored into `registry`.
  public init(registry: PrometheusCollectorRegistry) { self.registry = registry }

  /// Sets the counter `name{labels}` to `total` (which only grows; a smaller total, after a
  /// reset of its source, starts it again from there).
  public func counter(_ name: String, help: String, labels: [(String, String)] = [], total: UInt64) {
    let key = Key(name: name, labels: labels.flatMap { [$0.0, $0.1] })
    state.withLock { state in
      let entry = state.counters[key] ?? (registry.makeCounter(name: name, labels: labels, help: help), 0)
      if total > entry.total { entry.counter.increment(by: Int64(clamping: total - entry.total)) }
      state.counters[key] = (entry.counter, max(total, entry.total))
    }
  }

  /// Sets the gauge `name{labels}` to `value`.
  public func gauge(_ name: String, help: String, labels: [(String, String)] = [], value: Double) {
    let key = Key(name: name, labels: labels.flatMap { [$0.0, $0.1] })
    state.withLock { state in
      let gauge = state.gauges[key] ?? registry.makeGauge(name: name, labels: labels, help: help)
      gauge.set(value)
      state.gauges[key] = gauge
      state.setThisScrape.insert(key)
    }
  }

  /// Ends a scrape: gauges it did not set are removed from the registry.
  public func finish() {
    state.withLock { state in
      for (key, gauge) in state.gauges where !state.setThisScrape.contains(key) {
        registry.unregisterGauge(gauge)
        state.gauges[key] = nil
      }
      state.setThisScrape.removeAll(keepingCapacity: true)
    }
  }
}
