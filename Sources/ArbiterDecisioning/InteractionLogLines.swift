import ArbiterCore

/// The interaction log's JSON-lines encoding: one line per decision (with the offers made, every
/// factor of their scores and the probability each was drawn with, and the control holdouts),
/// per shadow decision, and per outcome. ``InteractionLogReplay`` reads them back.
enum InteractionLogLines {
  /// An upper bound of a decision line's size.
  static func bound(of decision: Decision) -> Int {
    var text = decision.decisionId.utf8.count + decision.versions.bundleName.utf8.count
    text += decision.versions.bundleVersion.utf8.count
    text += decision.exploration.utf8.count + decision.channel.name.utf8.count + decision.visitorId.utf8.count
    for i in decision.offers.indices { text += decision.offers[i].offerId.utf8.count }
    for i in decision.controls.indices { text += decision.controls[i].offerId.utf8.count }
    return JSONLineWriter.bound(
      fixed: 290 + 200 * decision.offers.count + 64 * decision.controls.count + 16 + (decision.features.count * 4 + 2) / 3 * 4,
      numbers: 4 + 11 * decision.offers.count + 2 * decision.controls.count, textBytes: text)
  }

  /// One decision as a JSON line (`type` "decision", or "shadow" without channel and time): its
  /// id, customer, bundle, the exploration method, the offers with their factors and the
  /// probability each was drawn with, what the models saw (`features`: the customer's then the
  /// context's values, base64 of little-endian float32s), and the offers held out for the
  /// control group (with what they would have scored); `"fallback":true` when it ran out of time.
  static func decision(_ decision: Decision, type: StaticString, channel: Bool, into line: inout JSONLineWriter) {
    line.raw("{\"type\":\"")
    line.raw(type)
    line.raw("\",\"decision_id\":")
    line.string(decision.decisionId)
    line.raw(",\"customer_id\":")
    line.integer(decision.customerId)
    if !decision.visitorId.isEmpty {
      line.raw(",\"visitor_id\":")
      line.string(decision.visitorId)
    }
    if channel {
      line.raw(",\"channel\":\"")
      line.raw(decision.channel.name)
      line.raw("\",\"ts\":")
      line.integer(decision.timestampMillis)
    }
    line.raw(",\"bundle\":")
    line.string(decision.versions.bundleName, decision.versions.bundleVersion)
    line.raw(",\"exploration\":\"")
    line.raw(decision.exploration)
    line.raw("\"")
    // Thompson sampling: how many resamples each offer's probability was estimated from.
    if decision.probabilityDraws > 0 {
      line.raw(",\"probability_draws\":")
      line.integer(Int64(decision.probabilityDraws))
    }
    // Only a fallback says so (a decision that ran out of time; its offers are unscored).
    line.raw(decision.fallback ? ",\"fallback\":true,\"offers\":[" : ",\"offers\":[")
    for i in decision.offers.indices {
      if i > 0 { line.raw(",") }
      offer(decision.offers[i], into: &line)
    }
    line.raw("]")
    if !decision.features.isEmpty {
      line.raw(",\"features\":")
      line.base64(decision.features)
    }
    if !decision.controls.isEmpty {
      line.raw(",\"control\":[")
      for (i, held) in decision.controls.enumerated() {
        if i > 0 { line.raw(",") }
        line.raw("{\"offer_id\":")
        line.string(held.offerId)
        line.member(",\"propensity\":", held.propensity)
        line.member(",\"score\":", held.priority)
        line.raw("}")
      }
      line.raw("]")
    }
    line.raw("}\n")
  }

  private static func offer(_ offer: RankedOffer, into line: inout JSONLineWriter) {
    line.raw("{\"offer_id\":")
    line.string(offer.offerId)
    line.raw(",\"rank\":")
    line.integer(Int64(offer.rank))
    line.member(",\"propensity\":", offer.propensity)
    line.member(",\"value\":", offer.value)
    line.member(",\"context_weight\":", offer.contextWeight)
    line.member(",\"lever\":", offer.lever)
    line.member(",\"cost\":", offer.channelCost)
    line.member(",\"shadow_price\":", offer.shadowPrice)
    line.member(",\"score\":", offer.score)
    line.member(",\"probability\":", offer.probability)
    if let control = offer.controlPropensity { line.member(",\"control_propensity\":", control) }
    if let logOdds = offer.offlineLogOdds { line.member(",\"offline_log_odds\":", logOdds) }
    line.raw("}")
  }

  /// One outcome as a JSON line, appended to `lines`.
  static func outcome(_ report: OutcomeReport, customerId: UInt64, timestampMillis: Int64, into lines: inout [UInt8]) {
    let text = report.decisionId.utf8.count + report.offerId.utf8.count + report.declineReason.utf8.count
    JSONLineWriter.withLine(bound: JSONLineWriter.bound(fixed: 160, numbers: 3, textBytes: text)) { line in
      line.raw("{\"type\":\"outcome\",\"decision_id\":")
      line.string(report.decisionId)
      line.raw(",\"customer_id\":")
      line.integer(customerId)
      line.raw(",\"offer_id\":")
      line.string(report.offerId)
      line.raw(",\"outcome\":\"")
      line.raw(report.outcome.rawValue)
      line.raw("\",\"ts\":")
      line.integer(timestampMillis)
      if !report.declineReason.isEmpty {
        line.raw(",\"decline_reason\":")
        line.string(report.declineReason)
      }
      if let value = report.value {
        line.raw(",\"value\":")
        line.number(value)
      }
      line.raw("}\n")
      lines.append(contentsOf: line.bytes)
    }
  }
}
