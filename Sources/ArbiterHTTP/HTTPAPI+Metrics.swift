import ArbiterAPI
import ArbiterCore
import ArbiterDecisioning
import ArbiterObservability
import Foundation
import Hummingbird

/// `GET /metrics`: Prometheus' text format (needs `admin`). Request counts and latencies are
/// recorded by the doors as requests are answered; the rest is read from what the server keeps
/// anyway, when the scrape comes (``ScrapedMetrics``).
extension HTTPAPI {
  func addMetricsRoute(to router: Router<ArbiterRequestContext>) {
    router.get("/metrics") { _, _ in
      var headers = HTTPFields()
      headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
      headers[.cacheControl] = "no-store"
      return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: metricsText())))
    }
  }

  /// The registry rendered, after copying in what the server keeps.
  func metricsText(now: Date = Date()) -> [UInt8] {
    guard let metrics else { return [] }
    mirror(into: metrics.scraped, now: now)
    return metrics.requests.registry.emitToBuffer()
  }

  /// Copies decisions per channel, offers and outcomes, suppressions, pacing, the store, the log,
  /// refusals and the live versions into `scraped`.
  func mirror(into scraped: ScrapedMetrics, now: Date) {
    for (channel, decisions) in live.decisionCounts {
      scraped.counter(
        "arbiter_decisions_total", help: "Decisions made (and logged), by channel.",
        labels: [("channel", channel.name)], total: decisions)
    }
    for (channel, fallbacks) in live.fallbackCounts {
      scraped.counter(
        "arbiter_decision_fallbacks_total",
        help: "Decisions that ran out of their time budget and answered with the fallback offers, by channel.",
        labels: [("channel", channel.name)], total: fallbacks)
    }
    scraped.counter(
      "arbiter_shadow_skipped_total", help: "Challenger shadow scorings skipped because the decision had no time left.",
      total: live.shadowsSkippedCount)
    let counts = live.log.counts
    scraped.counter("arbiter_outcomes_total", help: "Outcomes recorded.", total: counts.outcomes)
    for tally in live.log.offerTallies() {
      scraped.counter(
        "arbiter_offers_made_total", help: "Offers made (shown), by offer.", labels: [("offer", tally.offerId)],
        total: tally.made)
      for (outcome, total) in [
        ("impression", tally.impressions), ("click", tally.clicks), ("accept", tally.accepted),
        ("decline", tally.declined), ("convert", tally.converted),
      ] {
        scraped.counter(
          "arbiter_offer_outcomes_total", help: "Outcomes recorded for offers made, by offer and outcome.",
          labels: [("offer", tally.offerId), ("outcome", outcome)], total: total)
      }
    }
    for (reason, count) in live.suppressions.totals() {
      scraped.counter(
        "arbiter_suppressions_total", help: "Offers not made, by reason.", labels: [("reason", reason.rawValue)],
        total: count)
    }
    let engine = live.snapshot.engine
    for use in engine.pacing.uses(at: engine.clock()) {
      scraped.gauge(
        "arbiter_pacing_used", help: "Quota or capacity used in the current period (offers, or capacity units).",
        labels: [("key", use.key)], value: use.used)
      scraped.gauge(
        "arbiter_pacing_limit", help: "Quota or capacity limit of the current period.", labels: [("key", use.key)],
        value: use.limit)
    }
    let store = engine.customers
    scraped.gauge(
      "arbiter_store_customers", help: "Customers in the feature store.", value: Double(store.customerCount))
    scraped.gauge(
      "arbiter_store_consent_records", help: "Consents recorded (per customer, channel and purpose).",
      value: Double(store.consentRecordCount))
    scraped.gauge(
      "arbiter_store_erased_rows", help: "Rows of customers erased on request, wiped and left empty in the store.",
      value: Double(store.erasedCount))
    scraped.counter(
      "arbiter_store_log_records_total", help: "Updates (profiles and events) written to the store's log.",
      total: store.lastLSN)
    if let written = store.snapshotWrittenAt {
      scraped.gauge(
        "arbiter_store_snapshot_age_seconds", help: "Seconds since the newest snapshot of the store was written.",
        value: max(0, now.timeIntervalSince(written)))
    }
    if let path = live.log.path, let size = try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int {
      scraped.gauge("arbiter_interaction_log_bytes", help: "Size of the interaction log's file.", value: Double(size))
    }
    if let metrics {
      for counter in metrics.connections {
        scraped.gauge(
          "arbiter_connections_open", help: "Connections open, by door.", labels: [("door", counter.door)],
          value: Double(counter.openNow))
        scraped.gauge(
          "arbiter_connections_limit", help: "The most connections a door keeps open at once.",
          labels: [("door", counter.door)], value: Double(counter.limit))
        scraped.counter(
          "arbiter_connections_refused_total", help: "Connections refused at a door's limit.",
          labels: [("door", counter.door)], total: counter.refused)
      }
      for bound in metrics.inFlight {
        scraped.gauge(
          "arbiter_requests_in_flight", help: "Requests a door is working on, by door.", labels: [("door", bound.door)],
          value: Double(bound.inFlightNow))
        scraped.gauge(
          "arbiter_requests_in_flight_limit", help: "The most requests a door works on at once.",
          labels: [("door", bound.door)], value: Double(bound.limit))
        scraped.counter(
          "arbiter_requests_shed_total", help: "Requests answered RESOURCE_EXHAUSTED at a door's in-flight limit.",
          labels: [("door", bound.door)], total: bound.shed)
      }
    }
    let refusals = authenticator.refusals
    scraped.counter(
      "arbiter_access_refusals_total", help: "Requests refused by the access check, by reason.",
      labels: [("reason", "unauthenticated")], total: refusals.unauthenticated)
    scraped.counter(
      "arbiter_access_refusals_total", help: "Requests refused by the access check, by reason.",
      labels: [("reason", "permission_denied")], total: refusals.permissionDenied)
    let versions = engine.versions
    scraped.gauge(
      "arbiter_bundle_info",
      help: "The bundle deciding (role live) and the challenger scoring in its shadow; always 1.",
      labels: [
        ("role", "live"), ("bundle", versions.bundleName), ("version", versions.bundleVersion),
        ("catalogue", versions.catalogueVersion),
      ], value: 1)
    if let (challenger, share) = live.shadowStatus {
      let other = challenger.engine.versions
      scraped.gauge(
        "arbiter_bundle_info",
        help: "The bundle deciding (role live) and the challenger scoring in its shadow; always 1.",
        labels: [
          ("role", "challenger"), ("bundle", other.bundleName), ("version", other.bundleVersion),
          ("catalogue", other.catalogueVersion),
        ], value: 1)
      scraped.gauge("arbiter_challenger_share", help: "Share of decisions the challenger scores.", value: share)
    }
    for model in admin.status().models {
      scraped.gauge(
        "arbiter_model_info", help: "The live bundle's model for each offer (kind and bundle version); always 1.",
        labels: [("offer", model.offerID), ("kind", model.kind), ("version", versions.bundleVersion)], value: 1)
    }
    scraped.finish()
  }
}
