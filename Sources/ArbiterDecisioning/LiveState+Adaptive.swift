import ArbiterCore
import Foundation

/// The adaptive models' durable state: every model, the decisions still waiting for outcomes,
/// and how much of the interaction log they include (outcomes after that are replayed at start).
public struct AdaptiveSnapshotFile: Sendable, Codable {
  public var models: AdaptiveModels.Snapshot
  public var pending: [AdaptiveLearner.Entry]
  /// The interaction log's size when taken: every outcome before it is in `models`.
  public var logBytes: UInt64
  public var takenAtMillis: Int64
}

extension LiveState {
  /// The live adaptive models, when the catalogue has them.
  public var adaptiveModels: AdaptiveModels? { snapshot.engine.catalogue.adaptive?.models }

  /// Records outcomes in the interaction log and, with adaptive models, learns each (joined with
  /// its decision's features); returns how many were recorded (see ``InteractionLog/record(_:)``).
  public func recordOutcomes(_ reports: [OutcomeReport]) throws(ArbiterError) -> Int {
    let engine = snapshot.engine
    guard engine.catalogue.adaptive != nil else { return try log.record(reports) }
    // One at a time with snapshots, so that a snapshot's log size splits the outcomes exactly.
    return try adaptiveOrder.withLock { _ throws(ArbiterError) -> Int in
      let recorded = try log.record(reports)
      for report in reports {
        adaptiveLearner.learn(
          decisionId: report.decisionId, offerId: report.offerId, outcome: report.outcome, engine: engine)
      }
      return recorded
    }
  }

  /// Learns, as no response, every offer whose decision is older than the response window.
  @discardableResult
  public func expireAdaptive(nowMillis: Int64) -> Int {
    let engine = snapshot.engine
    guard let adaptive = engine.catalogue.adaptive else { return 0 }
    let cutoff = nowMillis - Int64(adaptive.policy.responseWindowSeconds * 1_000)
    return adaptiveOrder.withLock { _ in adaptiveLearner.expire(before: cutoff, engine: engine) }
  }

  /// Every adaptive model back to its prior, and the decisions waiting for outcomes forgotten.
  public func resetAdaptive() throws(ArbiterError) {
    guard let adaptive = snapshot.engine.catalogue.adaptive else {
      throw ArbiterError(.failedPrecondition, "the live catalogue has no adaptive models")
    }
    adaptiveOrder.withLock { _ in
      adaptive.models.reset(policy: adaptive.policy)
      adaptiveLearner.clear()
    }
  }

  /// The adaptive state to keep: the log flushed first, so that its size marks what is included.
  public func adaptiveSnapshot(nowMillis: Int64) -> AdaptiveSnapshotFile? {
    guard let models = adaptiveModels else { return nil }
    return adaptiveOrder.withLock { _ in
      log.flush()
      let size = log.path.flatMap { try? FileManager.default.attributesOfItem(atPath: $0)[.size] as? UInt64 } ?? 0
      return AdaptiveSnapshotFile(
        models: models.snapshot(), pending: adaptiveLearner.pending(), logBytes: size, takenAtMillis: nowMillis)
    }
  }

  /// Restores the decisions waiting for outcomes from a snapshot and replays the interaction log
  /// after it: decisions are remembered, outcomes learnt. Returns the outcomes learnt.
  @discardableResult
  public func replayAdaptive(_ file: AdaptiveSnapshotFile) throws(ArbiterError) -> Int {
    let engine = snapshot.engine
    guard engine.catalogue.adaptive != nil else { return 0 }
    for entry in file.pending { adaptiveLearner.remember(entry) }
    guard let path = log.path, let handle = FileHandle(forReadingAtPath: path) else { return 0 }
    defer { try? handle.close() }
    let data: Data
    do {
      try handle.seek(toOffset: file.logBytes)
      data = try handle.readToEnd() ?? Data()
    } catch {
      throw ArbiterError(
        .dataCorrupted, "\(path): cannot be read after the adaptive snapshot (\(error.localizedDescription))")
    }
    var learnt = 0
    for line in data.split(separator: UInt8(ascii: "\n")) {
      guard let object = try? JSONSerialization.jsonObject(with: line) as? [String: Any],
        let type = object["type"] as? String
      else { continue }
      if type == "decision", let entry = Self.learnerEntry(object) {
        adaptiveLearner.remember(entry)
      } else if type == "outcome", let id = object["decision_id"] as? String, let offer = object["offer_id"] as? String,
        let name = object["outcome"] as? String, let outcome = OutcomeKind(rawValue: name),
        adaptiveLearner.learn(decisionId: id, offerId: offer, outcome: outcome, engine: engine)
      {
        learnt += 1
      }
    }
    return learnt
  }

  /// A logged decision as the learner remembers it: its features and each adaptive offer's
  /// offline log-odds (nil when it has neither).
  static func learnerEntry(_ object: [String: Any]) -> AdaptiveLearner.Entry? {
    guard let id = object["decision_id"] as? String, let encoded = object["features"] as? String,
      let features = LoggedDecisions.floats(base64: encoded), let offers = object["offers"] as? [[String: Any]]
    else { return nil }
    let learnt = offers.compactMap { offer -> AdaptiveLearner.Entry.Offer? in
      guard let offerId = offer["offer_id"] as? String,
        let logOdds = (offer["offline_log_odds"] as? NSNumber)?.doubleValue
      else { return nil }
      return AdaptiveLearner.Entry.Offer(offerId: offerId, logOdds: logOdds, settled: false)
    }
    guard !learnt.isEmpty else { return nil }
    return AdaptiveLearner.Entry(
      decisionId: id, channel: object["channel"] as? String ?? "",
      timestampMillis: (object["ts"] as? NSNumber)?.int64Value ?? 0,
      features: features, offers: learnt)
  }
}
