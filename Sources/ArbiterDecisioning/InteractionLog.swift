import ArbiterCore
import Foundation
import Synchronization

/// The outcomes the loop is closed with.
public enum OutcomeKind: String, Sendable, CaseIterable {
  case impression, click, accept, decline, convert
}

/// An outcome reported for an offer of an earlier decision.
public struct OutcomeReport: Sendable {
  public var decisionId: String
  public var offerId: String
  public var outcome: OutcomeKind
  public var value: Double?
  public var declineReason: String
  /// 0 means now.
  public var timestampMillis: Int64

  public init(decisionId: String, offerId: String, outcome: OutcomeKind, value: Double? = nil, declineReason: String = "", timestampMillis: Int64 = 0) {
    self.decisionId = decisionId
    self.offerId = offerId
    self.outcome = outcome
    self.value = value
    self.declineReason = declineReason
    self.timestampMillis = timestampMillis
  }
}

/// One line of a customer's history as an agent sees it.
public struct InteractionEntry: Sendable, Hashable {
  public var decisionId: String
  public var offerId: String
  public var channel: Channel
  /// nil for an offer made with no outcome reported yet.
  public var outcome: OutcomeKind?
  public var timestampMillis: Int64
  public var declineReason: String

  public init(decisionId: String, offerId: String, channel: Channel, outcome: OutcomeKind?, timestampMillis: Int64, declineReason: String = "") {
    self.decisionId = decisionId
    self.offerId = offerId
    self.channel = channel
    self.outcome = outcome
    self.timestampMillis = timestampMillis
    self.declineReason = declineReason
  }
}

/// The interaction log: every decision (with the offers made and their scores) and every
/// outcome, appended as JSON lines to a file, plus what recent decisions and per-customer
/// history outcome validation and profiles need, kept in memory.
///
/// Outcomes are validated as a batch (the decision must be known and must have made the offer)
/// and written before `record` returns.
public final class InteractionLog: Sendable {
  struct DecisionSummary {
    var customerId: UInt64
    var channel: Channel
    var offerIds: [String]
  }

  struct State {
    var decisions: [String: DecisionSummary] = [:]
    var decisionOrder: [String] = []
    var evictFrom = 0
    var history: [UInt64: [InteractionEntry]] = [:]
    var pending = Data()
    var decisionsLogged: UInt64 = 0
    var shadowsLogged: UInt64 = 0
    var outcomesLogged: UInt64 = 0
  }

  /// How many recent decisions outcomes can refer to.
  public let decisionCapacity: Int
  /// How many history entries are kept per customer.
  public let historyPerCustomer = 50
  private let state = Mutex(State())
  private let file: FileHandle?
  public let path: String?

  /// Opens (creating if needed) the log at `path` for appending; nil keeps it in memory only.
  public init(path: String?, decisionCapacity: Int = 1_000_000) throws(ArbiterError) {
    self.decisionCapacity = decisionCapacity
    self.path = path
    guard let path else { file = nil; return }
    let url = URL(fileURLWithPath: path)
    do {
      try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
      if !FileManager.default.fileExists(atPath: path) { FileManager.default.createFile(atPath: path, contents: nil) }
      let handle = try FileHandle(forWritingTo: url)
      try handle.seekToEnd()
      file = handle
    } catch {
      throw ArbiterError(.failedPrecondition, "cannot open interaction log '\(path)': \(error)")
    }
  }

  /// Remembers a decision so outcomes can refer to it, and logs it (buffered).
  public func record(_ decision: Decision) {
    let line = decisionLine(decision, type: "decision", extra: ",\"channel\":\"\(decision.channel.name)\",\"ts\":\(decision.timestampMillis)")
    let summary = DecisionSummary(customerId: decision.customerId, channel: decision.channel, offerIds: decision.offers.map(\.offerId))
    let entries = decision.offers.map {
      InteractionEntry(decisionId: decision.decisionId, offerId: $0.offerId, channel: decision.channel, outcome: nil, timestampMillis: decision.timestampMillis, declineReason: "")
    }
    let toWrite: Data? = state.withLock { state in
      state.decisions[decision.decisionId] = summary
      state.decisionOrder.append(decision.decisionId)
      if state.decisionOrder.count - state.evictFrom > decisionCapacity {
        state.decisions.removeValue(forKey: state.decisionOrder[state.evictFrom])
        state.evictFrom += 1
        if state.evictFrom > decisionCapacity {
          state.decisionOrder.removeFirst(state.evictFrom)
          state.evictFrom = 0
        }
      }
      appendHistory(&state, customer: decision.customerId, entries)
      state.decisionsLogged += 1
      return Self.buffer(line, in: &state)
    }
    if let toWrite { write(toWrite) }
  }

  /// Logs what a challenger would have decided (shadow scoring); it changes nothing else.
  public func recordShadow(_ decision: Decision) {
    let line = decisionLine(decision, type: "shadow", extra: "")
    let toWrite: Data? = state.withLock { state in
      state.shadowsLogged += 1
      return Self.buffer(line, in: &state)
    }
    if let toWrite { write(toWrite) }
  }

  /// One decision as a JSON line: its id, customer, bundle, the exploration method, the offers
  /// with their factors and the probability each was drawn with, and the offers held out for
  /// the control group (with what they would have scored).
  private func decisionLine(_ decision: Decision, type: String, extra: String) -> String {
    var line = "{\"type\":\"\(type)\",\"decision_id\":\(json(decision.decisionId)),\"customer_id\":\(decision.customerId)\(extra),\"bundle\":\(json(decision.versions.bundleName + "/" + decision.versions.bundleVersion)),\"exploration\":\"\(decision.exploration)\",\"offers\":["
    for (i, offer) in decision.offers.enumerated() {
      if i > 0 { line += "," }
      line += "{\"offer_id\":\(json(offer.offerId)),\"rank\":\(offer.rank),\"propensity\":\(offer.propensity),\"value\":\(offer.value),\"context_weight\":\(offer.contextWeight),\"lever\":\(offer.lever),\"cost\":\(offer.channelCost),\"shadow_price\":\(offer.shadowPrice),\"score\":\(offer.score),\"probability\":\(offer.probability)}"
    }
    line += "]"
    if !decision.controls.isEmpty {
      line += ",\"control\":["
      for (i, held) in decision.controls.enumerated() {
        if i > 0 { line += "," }
        line += "{\"offer_id\":\(json(held.offerId)),\"propensity\":\(held.propensity),\"score\":\(held.priority)}"
      }
      line += "]"
    }
    return line + "}\n"
  }

  /// Adds a line to the buffer; returns the buffer's bytes to write once it holds 64 KiB.
  private static func buffer(_ line: String, in state: inout State) -> Data? {
    state.pending.append(contentsOf: line.utf8)
    guard state.pending.count >= 64 * 1024 else { return nil }
    defer { state.pending.removeAll(keepingCapacity: true) }
    return state.pending
  }

  /// How many shadow decisions were logged.
  public var shadowCount: UInt64 { state.withLock { $0.shadowsLogged } }

  /// Validates and appends outcomes; all or none. Returns how many were recorded.
  public func record(_ outcomes: [OutcomeReport]) throws(ArbiterError) -> Int {
    let now = Int64(Date().timeIntervalSince1970 * 1000)
    let result: Result<Data, ArbiterError> = state.withLock { state in
      var resolved: [(UInt64, InteractionEntry, Double?)] = []
      for (i, outcome) in outcomes.enumerated() {
        guard !outcome.decisionId.isEmpty else { return .failure(ArbiterError(.invalidArgument, "outcomes[\(i)].decision_id is required")) }
        guard !outcome.offerId.isEmpty else { return .failure(ArbiterError(.invalidArgument, "outcomes[\(i)].offer_id is required")) }
        guard let decision = state.decisions[outcome.decisionId] else {
          return .failure(ArbiterError(.notFound, "outcomes[\(i)]: decision '\(outcome.decisionId)' not found"))
        }
        guard decision.offerIds.contains(outcome.offerId) else {
          return .failure(ArbiterError(.invalidArgument, "outcomes[\(i)]: decision '\(outcome.decisionId)' did not make offer '\(outcome.offerId)'"))
        }
        if let value = outcome.value, !value.isFinite {
          return .failure(ArbiterError(.invalidArgument, "outcomes[\(i)].value must be finite"))
        }
        let ts = outcome.timestampMillis == 0 ? now : outcome.timestampMillis
        resolved.append((decision.customerId, InteractionEntry(
          decisionId: outcome.decisionId, offerId: outcome.offerId, channel: decision.channel, outcome: outcome.outcome,
          timestampMillis: ts, declineReason: outcome.declineReason), outcome.value))
      }
      // Valid: buffered decision lines go first, so the file keeps decisions before their outcomes.
      var lines = state.pending
      state.pending.removeAll(keepingCapacity: true)
      for (customer, entry, value) in resolved {
        appendHistory(&state, customer: customer, [entry])
        var line = "{\"type\":\"outcome\",\"decision_id\":\(json(entry.decisionId)),\"customer_id\":\(customer),\"offer_id\":\(json(entry.offerId)),\"outcome\":\"\(entry.outcome!.rawValue)\",\"ts\":\(entry.timestampMillis)"
        if !entry.declineReason.isEmpty { line += ",\"decline_reason\":\(json(entry.declineReason))" }
        if let value { line += ",\"value\":\(value)" }
        line += "}\n"
        lines.append(contentsOf: line.utf8)
      }
      state.outcomesLogged += UInt64(resolved.count)
      return .success(lines)
    }
    let lines = try result.get()
    write(lines)
    return outcomes.count
  }

  /// A customer's recent offers and outcomes, newest first.
  public func recent(customerId: UInt64, limit: Int) -> [InteractionEntry] {
    state.withLock { state in Array((state.history[customerId] ?? []).reversed().prefix(limit)) }
  }

  /// Counts of decisions and outcomes logged since start.
  public var counts: (decisions: UInt64, outcomes: UInt64) {
    state.withLock { ($0.decisionsLogged, $0.outcomesLogged) }
  }

  /// Writes buffered decision lines.
  public func flush() {
    let data = state.withLock { state in defer { state.pending.removeAll(keepingCapacity: true) }; return state.pending }
    write(data)
  }

  private func write(_ data: Data) {
    guard let file, !data.isEmpty else { return }
    file.write(data)
  }

  private func appendHistory(_ state: inout State, customer: UInt64, _ entries: [InteractionEntry]) {
    guard !entries.isEmpty else { return }
    // In place: no copy of the customer's list.
    state.history[customer, default: []].append(contentsOf: entries)
    let count = state.history[customer]!.count
    if count > historyPerCustomer { state.history[customer]!.removeFirst(count - historyPerCustomer) }
  }

  private func json(_ text: String) -> String {
    // Most ids need no escaping.
    if !text.utf8.contains(where: { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C }) { return "\"" + text + "\"" }
    var out = "\""
    for scalar in text.unicodeScalars {
      switch scalar {
      case "\"": out += "\\\""
      case "\\": out += "\\\\"
      case "\n": out += "\\n"
      case "\r": out += "\\r"
      case "\t": out += "\\t"
      default:
        if scalar.value < 0x20 { out += String(format: "\\u%04x", scalar.value) } else { out.unicodeScalars.append(scalar) }
      }
    }
    return out + "\""
  }
}
