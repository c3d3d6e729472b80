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

/// The interaction log: every decision (with the offers made, their factors and the
/// probability each was drawn with) and every outcome, appended as JSON lines to a file, plus
/// what outcome validation and the contact policy need, kept in memory in fixed-size rings of
/// plain values:
/// - the recent decisions (customer, channel, offers), by sequence number: an outcome's
///   decision id ("d-<instance>-<sequence>", see ``makeDecisionId(kind:)``) names its slot;
/// - the recent offers and outcomes, chained per customer, newest first.
///
/// Nothing here is keyed by a string or allocated per decision except the JSON line. A decision
/// whose id the log did not make (one decided outside ``LiveState``) is still recorded, through
/// a small map from its id.
///
/// Outcomes are validated as a batch (the decision must be known and must have made the offer)
/// and written before `record` returns.
public final class InteractionLog: Sendable {
  /// A recent decision, in the ring at `sequence % capacity`.
  struct DecisionSlot {
    var sequence: UInt64 = 0
    var customerId: UInt64 = 0
    /// Absolute position of the decision's first offer code in the offer ring, and how many.
    var offerStart: UInt64 = 0
    var offerCount: UInt16 = 0
    var channel: Channel = .web
    /// The first letter of the decision's id (`d`, `p`, `o`).
    var kind: UInt8 = 0
  }

  /// One offer made or one outcome, in the history ring; `previous` chains a customer's entries
  /// (position + 1 of the older one, 0 for none).
  struct HistorySlot {
    var previous: UInt64 = 0
    var customerId: UInt64 = 0
    var sequence: UInt64 = 0
    var timestampMillis: Int64 = 0
    var offer: UInt32 = 0
    var channel: Channel = .web
    /// 0 for an offer made, else the outcome's index in ``OutcomeKind/allCases`` + 1.
    var outcome: UInt8 = 0
    /// The first letter of the decision's id.
    var kind: UInt8 = 0
  }

  struct State {
    var decisions: [DecisionSlot]
    var offers: [UInt32]
    var offersWritten: UInt64 = 0
    var history: [HistorySlot]
    var historyWritten: UInt64 = 0
    /// Customer → position + 1 of their newest history entry.
    var heads: [UInt64: UInt64] = [:]
    var declineReasons: [UInt64: String] = [:]
    /// Offer ids as codes.
    var offerCodes: [String: UInt32] = [:]
    var offerIds: [String] = []
    /// Decisions with ids the log did not make: id → sequence, and back.
    var foreignSequences: [String: UInt64] = [:]
    var foreignIds: [UInt64: String] = [:]
    var foreignOrder: [UInt64] = []
    var nextForeign: UInt64 = 1
    var pending: [UInt8] = []
    var decisionsLogged: UInt64 = 0
    var shadowsLogged: UInt64 = 0
    var outcomesLogged: UInt64 = 0

    /// Codes by catalogue index for the decisions of one engine (its version stamp): a guess
    /// checked against the id, so that a decision's offers are coded without hashing their ids.
    var codesByIndex: [UInt32] = []
    var codesOf: ObjectIdentifier?

    mutating func code(of offerId: String) -> UInt32 {
      if let code = offerCodes[offerId] { return code }
      let code = UInt32(offerIds.count)
      offerIds.append(offerId)
      offerCodes[offerId] = code
      return code
    }

    mutating func code(of offerId: String, index: Int, versions: VersionStamp) -> UInt32 {
      if codesOf != ObjectIdentifier(versions) {
        codesOf = ObjectIdentifier(versions)
        codesByIndex.removeAll(keepingCapacity: true)
      } else if index >= 0, index < codesByIndex.count {
        let guess = codesByIndex[index]
        if guess != .max, offerIds[Int(guess)] == offerId { return guess }
      }
      let code = code(of: offerId)
      if index >= 0, index < 65_536 {
        if index >= codesByIndex.count { codesByIndex.append(contentsOf: repeatElement(UInt32.max, count: index + 1 - codesByIndex.count)) }
        codesByIndex[index] = code
      }
      return code
    }

    /// Puts a decision in the decision ring and its offers in the offer ring and the customer's
    /// history; `sequence` is nil for an id the log did not make. `code` gives offer `i`'s code.
    mutating func remember(
      id: String, sequence: UInt64?, customerId: UInt64, channel: Channel, timestampMillis: Int64, offerCount: Int, code: (inout State, Int) -> UInt32
    ) {
      var seq: UInt64
      if let sequence { seq = sequence } else {
        seq = foreignBit | nextForeign
        nextForeign += 1
        if let old = foreignSequences.updateValue(seq, forKey: id) { foreignIds[old] = nil }
        foreignIds[seq] = id
        foreignOrder.append(seq)
        if foreignOrder.count > decisions.count {
          let evicted = foreignOrder.removeFirst()
          if let id = foreignIds.removeValue(forKey: evicted), foreignSequences[id] == evicted { foreignSequences[id] = nil }
        }
      }
      let offerCapacity = UInt64(offers.count)
      let kind = id.utf8.first ?? 0
      var slot = DecisionSlot(sequence: seq, customerId: customerId, offerStart: offersWritten, offerCount: 0, channel: channel, kind: kind)
      if offerCount > 0 {
        var previous = heads[customerId] ?? 0
        for i in 0..<offerCount {
          let code = code(&self, i)
          offers[Int(offersWritten % offerCapacity)] = code
          offersWritten += 1
          slot.offerCount += 1
          previous = 1 + appendHistory(HistorySlot(
            previous: previous, customerId: customerId, sequence: seq, timestampMillis: timestampMillis, offer: code,
            channel: channel, outcome: 0, kind: kind))
        }
        heads[customerId] = previous
      }
      decisions[Int(seq % UInt64(decisions.count))] = slot
    }

    /// The remembered decision an id names, if it is still in the ring (`instance`: the log's).
    func slot(of id: String, instance: UInt32) -> DecisionSlot? {
      let own = parseId(id).flatMap { $0.instance == instance ? $0.sequence : nil }
      guard let sequence = own ?? foreignSequences[id] else { return nil }
      let slot = decisions[Int(sequence % UInt64(decisions.count))]
      return slot.sequence == sequence && (sequence & foreignBit != 0 || slot.kind == id.utf8.first) ? slot : nil
    }

    /// Adds an outcome of a remembered decision to the customer's history.
    mutating func appendOutcome(of decision: DecisionSlot, offer: UInt32, outcome: OutcomeKind, timestampMillis: Int64, declineReason: String) {
      let position = appendHistory(HistorySlot(
        previous: heads[decision.customerId] ?? 0, customerId: decision.customerId, sequence: decision.sequence, timestampMillis: timestampMillis,
        offer: offer, channel: decision.channel, outcome: UInt8(OutcomeKind.allCases.firstIndex(of: outcome)! + 1), kind: decision.kind))
      heads[decision.customerId] = position + 1
      if !declineReason.isEmpty {
        declineReasons[position] = declineReason
        if declineReasons.count > 4_096 { pruneDeclineReasons() }
      }
    }

    /// Appends to the history ring; returns the entry's position. The entry's `previous` links
    /// it to the customer's chain; the caller moves the customer's head.
    private mutating func appendHistory(_ entry: HistorySlot) -> UInt64 {
      let position = historyWritten
      history[Int(position % UInt64(history.count))] = entry
      historyWritten += 1
      return position
    }

    /// Drops the decline reasons of entries the history ring has overwritten.
    private mutating func pruneDeclineReasons() {
      let oldest = historyWritten > UInt64(history.count) ? historyWritten - UInt64(history.count) : 0
      declineReasons = declineReasons.filter { $0.key >= oldest }
    }

    /// Replays read-back lines into the rings, as ``InteractionLog/record(_:sequence:)`` and
    /// ``InteractionLog/record(_:)`` (outcomes) did when they were written.
    mutating func restore(_ lines: [InteractionLogReplay.Line], instance: UInt32, into report: inout RestoreReport) {
      for line in lines {
        switch line {
        case .decision(let id, let customerId, let channel, let timestampMillis, let offerIds):
          let parsed = parseId(id)
          remember(
            id: id, sequence: parsed?.instance == instance ? parsed?.sequence : nil, customerId: customerId, channel: channel,
            timestampMillis: timestampMillis, offerCount: offerIds.count
          ) { state, i in state.code(of: offerIds[i]) }
          report.decisions += 1
        case .outcome(let decisionId, let offerId, let outcome, let timestampMillis, let declineReason):
          guard let decision = slot(of: decisionId, instance: instance) else {
            report.outcomesOfOlderDecisions += 1
            continue
          }
          appendOutcome(of: decision, offer: code(of: offerId), outcome: outcome, timestampMillis: timestampMillis, declineReason: declineReason)
          report.outcomes += 1
        case .other:
          continue
        }
      }
    }
  }

  /// Sequences of decisions the log did not make carry this bit.
  static let foreignBit: UInt64 = 1 << 63
  /// How many recent decisions outcomes can refer to.
  public let decisionCapacity: Int
  /// How many offers and outcomes the history ring holds (all customers together).
  public let historyCapacity: Int
  /// How many history entries are read per customer.
  public let historyPerCustomer = 50
  /// This log's instance: a random number chosen when the log file is created (or when the log
  /// is in memory only), part of every decision id. A restarted server continues the instance and
  /// sequence of the file's newest decision, so the ids its predecessor gave out stay valid.
  public let instanceId: UInt32
  private let instanceText: String
  private let sequenceCounter: Atomic<UInt64>
  private let state: Mutex<State>
  private let file: FileHandle?
  public let path: String?
  /// What was read back from the log file at start.
  public let restored: RestoreReport

  /// What a restart read back from the log file: the newest decisions (up to the decision ring's
  /// capacity) and the outcomes after them, into the rings outcomes and the contact policy read.
  public struct RestoreReport: Sendable, Equatable {
    public var decisions = 0
    public var outcomes = 0
    /// Outcomes whose decision is older than the decisions read back.
    public var outcomesOfOlderDecisions = 0
    /// Lines that are not valid log lines (a line cut short by a crash), skipped.
    public var malformedLines = 0

    public init(decisions: Int = 0, outcomes: Int = 0, outcomesOfOlderDecisions: Int = 0, malformedLines: Int = 0) {
      self.decisions = decisions
      self.outcomes = outcomes
      self.outcomesOfOlderDecisions = outcomesOfOlderDecisions
      self.malformedLines = malformedLines
    }
  }

  /// Opens (creating if needed) the log at `path` for appending; nil keeps it in memory only.
  /// An existing file's newest decisions and outcomes are read back into the rings (see
  /// ``restored``). `expectedCustomers` sizes the per-customer index up front (so it does not
  /// grow while serving).
  public init(path: String?, decisionCapacity: Int = 1_000_000, historyCapacity: Int = 4_000_000, expectedCustomers: Int = 0) throws(ArbiterError) {
    self.decisionCapacity = max(1, decisionCapacity)
    self.historyCapacity = max(1, historyCapacity)
    self.path = path
    let replay: InteractionLogReplay? = try path.map { (path: String) throws(ArbiterError) in try InteractionLogReplay(path: path, decisionLimit: max(1, decisionCapacity)) }
    // Continue the newest decision's instance, after a gap wider than the decisions that can
    // have been made but not written (the buffer, calls in flight); the gap is 1 modulo the
    // ring's size, so the next decision takes the ring's oldest slot.
    var continued: (instance: UInt32, sequence: UInt64)?
    for line in (replay?.lines ?? []).reversed() {
      guard case .decision(let id, _, _, _, _) = line, let parsed = Self.parseId(id) else { continue }
      continued = (parsed.instance, parsed.sequence)
      break
    }
    if let instance = continued?.instance {
      for case .decision(let id, _, _, _, _) in replay?.lines ?? [] {
        if let parsed = Self.parseId(id), parsed.instance == instance { continued!.sequence = max(continued!.sequence, parsed.sequence) }
      }
    }
    if let continued {
      instanceId = continued.instance
      let capacity = UInt64(self.decisionCapacity)
      let gap = capacity * ((65_536 + capacity - 1) / capacity) + 1
      sequenceCounter = Atomic(continued.sequence + gap - 1)
    } else {
      var generator = SystemRandomNumberGenerator()
      instanceId = UInt32.random(in: 0...UInt32.max, using: &generator)
      sequenceCounter = Atomic(0)
    }
    instanceText = String(instanceId, radix: 16)
    var initial = State(
      decisions: [DecisionSlot](repeating: DecisionSlot(), count: self.decisionCapacity),
      offers: [UInt32](repeating: 0, count: self.decisionCapacity * 4),
      history: [HistorySlot](repeating: HistorySlot(), count: self.historyCapacity), heads: Dictionary(minimumCapacity: max(0, expectedCustomers)))
    var report = RestoreReport()
    if let replay {
      report.malformedLines = replay.malformed
      initial.restore(replay.lines, instance: instanceId, into: &report)
    }
    restored = report
    state = Mutex(initial)
    guard let path else { file = nil; return }
    let url = URL(fileURLWithPath: path)
    do {
      try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
      if !FileManager.default.fileExists(atPath: path) { FileManager.default.createFile(atPath: path, contents: nil) }
      let handle = try FileHandle(forWritingTo: url)
      try handle.seekToEnd()
      // A line cut short by a crash is ended, so that the next line starts on its own.
      if replay?.endsInsideLine == true { try handle.write(contentsOf: Data([0x0A])) }
      file = handle
    } catch {
      throw ArbiterError(.failedPrecondition, "cannot open interaction log '\(path)': \(error)")
    }
  }

  /// A new decision's sequence number and id: `kind` ("d" decide, "p" page, "o" outbound),
  /// this process's instance and the sequence, in hex.
  public func makeDecisionId(kind: StaticString) -> (sequence: UInt64, id: String) {
    let sequence = sequenceCounter.wrappingAdd(1, ordering: .relaxed).newValue
    // One allocation: kind, "-", instance, "-", the sequence in hex.
    let digits = max(1, (64 - sequence.leadingZeroBitCount + 3) / 4)
    let instance = instanceText.utf8
    let length = kind.utf8CodeUnitCount + 2 + instance.count + digits
    let id = String(unsafeUninitializedCapacity: length) { out in
      var at = 0
      for i in 0..<kind.utf8CodeUnitCount { out[at] = kind.utf8Start[i]; at += 1 }
      out[at] = UInt8(ascii: "-"); at += 1
      for byte in instance { out[at] = byte; at += 1 }
      out[at] = UInt8(ascii: "-"); at += 1
      for k in stride(from: digits - 1, through: 0, by: -1) {
        let nibble = UInt8((sequence >> (UInt64(k) * 4)) & 15)
        out[at] = nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") + nibble - 10
        at += 1
      }
      return at
    }
    return (sequence, id)
  }

  /// The instance and sequence of an id in this log's format (`k-<instance>-<sequence>`, in
  /// hex), or nil.
  static func parseId(_ id: String) -> (instance: UInt32, sequence: UInt64)? {
    var utf8 = id.utf8[...]
    guard let dash = utf8.firstIndex(of: UInt8(ascii: "-")), utf8.distance(from: utf8.startIndex, to: dash) == 1 else { return nil }
    utf8 = utf8[utf8.index(after: dash)...]
    guard let second = utf8.firstIndex(of: UInt8(ascii: "-")), let instance = hex(utf8[..<second], maxDigits: 8) else { return nil }
    guard let sequence = hex(utf8[utf8.index(after: second)...], maxDigits: 16), sequence != 0, sequence & foreignBit == 0 else { return nil }
    return (UInt32(instance), sequence)
  }

  /// Lower-case hex digits without leading zeros (as `String(_:radix: 16)` writes them).
  private static func hex(_ digits: Substring.UTF8View, maxDigits: Int) -> UInt64? {
    guard !digits.isEmpty, digits.count <= maxDigits, digits.first != UInt8(ascii: "0") || digits.count == 1 else { return nil }
    var value: UInt64 = 0
    for byte in digits {
      let digit: UInt8
      switch byte {
      case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
      case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
      default: return nil
      }
      value = value << 4 | UInt64(digit)
    }
    return value
  }

  /// Remembers a decision so outcomes can refer to it, adds its offers to the customer's
  /// history, and logs it (buffered). `sequence` is the one ``makeDecisionId(kind:)`` gave
  /// with the decision's id, or nil for an id made elsewhere.
  public func record(_ decision: Decision, sequence: UInt64? = nil) {
    let toWrite: [UInt8]? = JSONLineWriter.withLine(bound: Self.lineBound(decision)) { line in
      decisionLine(decision, type: "decision", channel: true, into: &line)
      return remember(decision, sequence: sequence, line: line.bytes)
    }
    if let toWrite { write(toWrite) }
  }

  /// Keeps the decision in the rings and buffers its line; returns bytes to write, if due.
  private func remember(_ decision: Decision, sequence: UInt64?, line: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
    state.withLock { state in
      // By index: a copy of each offer would retain all its strings.
      state.remember(
        id: decision.decisionId, sequence: sequence, customerId: decision.customerId, channel: decision.channel,
        timestampMillis: decision.timestampMillis, offerCount: min(decision.offers.count, Int(UInt16.max))
      ) { state, i in state.code(of: decision.offers[i].offerId, index: decision.offers[i].offerIndex, versions: decision.versions) }
      state.decisionsLogged += 1
      return Self.buffer(line, in: &state)
    }
  }

  /// An upper bound of a decision line's size.
  private static func lineBound(_ decision: Decision) -> Int {
    var text = decision.decisionId.utf8.count + decision.versions.bundleName.utf8.count + decision.versions.bundleVersion.utf8.count
    text += decision.exploration.utf8.count + decision.channel.name.utf8.count
    for i in decision.offers.indices { text += decision.offers[i].offerId.utf8.count }
    for i in decision.controls.indices { text += decision.controls[i].offerId.utf8.count }
    return JSONLineWriter.bound(
      fixed: 256 + 200 * decision.offers.count + 64 * decision.controls.count, numbers: 4 + 9 * decision.offers.count + 2 * decision.controls.count,
      textBytes: text)
  }

  /// Logs what a challenger would have decided (shadow scoring); it changes nothing else.
  public func recordShadow(_ decision: Decision) {
    let toWrite: [UInt8]? = JSONLineWriter.withLine(bound: Self.lineBound(decision)) { line in
      decisionLine(decision, type: "shadow", channel: false, into: &line)
      return state.withLock { state in
        state.shadowsLogged += 1
        return Self.buffer(line.bytes, in: &state)
      }
    }
    if let toWrite { write(toWrite) }
  }

  /// One decision as a JSON line: its id, customer, bundle, the exploration method, the offers
  /// with their factors and the probability each was drawn with, and the offers held out for
  /// the control group (with what they would have scored).
  private func decisionLine(_ decision: Decision, type: StaticString, channel: Bool, into line: inout JSONLineWriter) {
    line.raw("{\"type\":\""); line.raw(type); line.raw("\",\"decision_id\":"); line.string(decision.decisionId)
    line.raw(",\"customer_id\":"); line.integer(decision.customerId)
    if channel {
      line.raw(",\"channel\":\""); line.raw(decision.channel.name); line.raw("\",\"ts\":"); line.integer(decision.timestampMillis)
    }
    line.raw(",\"bundle\":"); line.string(decision.versions.bundleName, decision.versions.bundleVersion)
    line.raw(",\"exploration\":\""); line.raw(decision.exploration); line.raw("\",\"offers\":[")
    for i in decision.offers.indices {
      if i > 0 { line.raw(",") }
      line.raw("{\"offer_id\":"); line.string(decision.offers[i].offerId)
      line.raw(",\"rank\":"); line.integer(Int64(decision.offers[i].rank))
      line.raw(",\"propensity\":"); line.number(decision.offers[i].propensity)
      line.raw(",\"value\":"); line.number(decision.offers[i].value)
      line.raw(",\"context_weight\":"); line.number(decision.offers[i].contextWeight)
      line.raw(",\"lever\":"); line.number(decision.offers[i].lever)
      line.raw(",\"cost\":"); line.number(decision.offers[i].channelCost)
      line.raw(",\"shadow_price\":"); line.number(decision.offers[i].shadowPrice)
      line.raw(",\"score\":"); line.number(decision.offers[i].score)
      line.raw(",\"probability\":"); line.number(decision.offers[i].probability)
      line.raw("}")
    }
    line.raw("]")
    if !decision.controls.isEmpty {
      line.raw(",\"control\":[")
      for (i, held) in decision.controls.enumerated() {
        if i > 0 { line.raw(",") }
        line.raw("{\"offer_id\":"); line.string(held.offerId)
        line.raw(",\"propensity\":"); line.number(held.propensity)
        line.raw(",\"score\":"); line.number(held.priority)
        line.raw("}")
      }
      line.raw("]")
    }
    line.raw("}\n")
  }

  /// Adds a line to the buffer; returns the buffer's bytes to write once it holds 64 KiB.
  private static func buffer(_ line: UnsafeBufferPointer<UInt8>, in state: inout State) -> [UInt8]? {
    state.pending.append(contentsOf: line)
    guard state.pending.count >= 64 * 1024 else { return nil }
    defer { state.pending.removeAll(keepingCapacity: true) }
    return state.pending
  }

  /// How many shadow decisions were logged.
  public var shadowCount: UInt64 { state.withLock { $0.shadowsLogged } }

  /// Validates and appends outcomes; all or none. Returns how many were recorded.
  public func record(_ outcomes: [OutcomeReport]) throws(ArbiterError) -> Int {
    let now = Int64(Date().timeIntervalSince1970 * 1000)
    let result: Result<[UInt8], ArbiterError> = state.withLock { state in
      var resolved: [(decision: DecisionSlot, offer: UInt32, timestampMillis: Int64, report: OutcomeReport)] = []
      for (i, outcome) in outcomes.enumerated() {
        guard !outcome.decisionId.isEmpty else { return .failure(ArbiterError(.invalidArgument, "outcomes[\(i)].decision_id is required")) }
        guard !outcome.offerId.isEmpty else { return .failure(ArbiterError(.invalidArgument, "outcomes[\(i)].offer_id is required")) }
        guard let decision = state.slot(of: outcome.decisionId, instance: instanceId) else {
          return .failure(ArbiterError(.notFound, "outcomes[\(i)]: decision '\(outcome.decisionId)' not found"))
        }
        let code = state.offerCodes[outcome.offerId]
        let offerCapacity = UInt64(state.offers.count)
        let stillHeld = decision.offerStart + offerCapacity >= state.offersWritten
        guard let code, stillHeld,
          (0..<UInt64(decision.offerCount)).contains(where: { state.offers[Int((decision.offerStart + $0) % offerCapacity)] == code })
        else {
          return .failure(ArbiterError(.invalidArgument, "outcomes[\(i)]: decision '\(outcome.decisionId)' did not make offer '\(outcome.offerId)'"))
        }
        if let value = outcome.value, !value.isFinite {
          return .failure(ArbiterError(.invalidArgument, "outcomes[\(i)].value must be finite"))
        }
        resolved.append((decision, code, outcome.timestampMillis == 0 ? now : outcome.timestampMillis, outcome))
      }
      // Valid: buffered decision lines go first, so the file keeps decisions before their outcomes.
      var lines = state.pending
      state.pending.removeAll(keepingCapacity: true)
      for (decision, offer, timestampMillis, report) in resolved {
        state.appendOutcome(of: decision, offer: offer, outcome: report.outcome, timestampMillis: timestampMillis, declineReason: report.declineReason)
        let text = report.decisionId.utf8.count + report.offerId.utf8.count + report.declineReason.utf8.count
        JSONLineWriter.withLine(bound: JSONLineWriter.bound(fixed: 160, numbers: 3, textBytes: text)) { line in
          line.raw("{\"type\":\"outcome\",\"decision_id\":"); line.string(report.decisionId)
          line.raw(",\"customer_id\":"); line.integer(decision.customerId)
          line.raw(",\"offer_id\":"); line.string(report.offerId)
          line.raw(",\"outcome\":\""); line.raw(report.outcome.rawValue)
          line.raw("\",\"ts\":"); line.integer(timestampMillis)
          if !report.declineReason.isEmpty { line.raw(",\"decline_reason\":"); line.string(report.declineReason) }
          if let value = report.value { line.raw(",\"value\":"); line.number(value) }
          line.raw("}\n")
          lines.append(contentsOf: line.bytes)
        }
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
    state.withLock { state in
      var entries: [InteractionEntry] = []
      walkHistory(customerId, limit, state) { position, entry in
        entries.append(InteractionEntry(
          decisionId: decisionId(of: entry, state), offerId: state.offerIds[Int(entry.offer)], channel: entry.channel,
          outcome: entry.outcome == 0 ? nil : OutcomeKind.allCases[Int(entry.outcome) - 1], timestampMillis: entry.timestampMillis,
          declineReason: state.declineReasons[position] ?? ""))
      }
      return entries
    }
  }

  /// What the contact policy reads of a customer's recent offers and outcomes, newest first
  /// (no decision ids spelt out).
  public func contacts(customerId: UInt64, limit: Int) -> [ContactRecord] {
    state.withLock { state in
      var records: [ContactRecord] = []
      walkHistory(customerId, limit, state) { _, entry in
        records.append(ContactRecord(
          decision: entry.sequence, offerId: state.offerIds[Int(entry.offer)], channel: entry.channel,
          outcome: entry.outcome == 0 ? nil : OutcomeKind.allCases[Int(entry.outcome) - 1], timestampMillis: entry.timestampMillis))
      }
      return records
    }
  }

  /// Visits up to `limit` of the customer's entries still in the ring, newest first.
  private func walkHistory(_ customerId: UInt64, _ limit: Int, _ state: borrowing State, _ visit: (UInt64, HistorySlot) -> Void) {
    var next = state.heads[customerId] ?? 0
    let capacity = UInt64(historyCapacity)
    var count = 0
    while next != 0, count < limit {
      let position = next - 1
      guard position + capacity >= state.historyWritten else { break }
      let entry = state.history[Int(position % capacity)]
      guard entry.customerId == customerId else { break }
      visit(position, entry)
      count += 1
      next = entry.previous
    }
  }

  /// The id of the decision a history entry belongs to.
  private func decisionId(of entry: HistorySlot, _ state: State) -> String {
    if entry.sequence & Self.foreignBit != 0 { return state.foreignIds[entry.sequence] ?? "" }
    return String(UnicodeScalar(entry.kind)) + "-" + instanceText + "-" + String(entry.sequence, radix: 16)
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

  private func write(_ bytes: [UInt8]) {
    guard let file, !bytes.isEmpty else { return }
    bytes.withUnsafeBytes { file.write(Data(bytesNoCopy: UnsafeMutableRawPointer(mutating: $0.baseAddress!), count: $0.count, deallocator: .none)) }
  }

}
