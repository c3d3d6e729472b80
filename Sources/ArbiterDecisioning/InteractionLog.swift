import ArbiterCore
import Foundation
import Synchronization

/// The outcomes the loop is closed with.
public enum OutcomeKind: String, Sendable, CaseIterable {
  /// The offer was shown, it was clicked, the customer accepted or declined it, or the customer went on to take the
  /// product up (converted).
  case impression, click, accept, decline, convert
}

/// An outcome reported for an offer of an earlier decision.
public struct OutcomeReport: Sendable {
  /// The decision that made the offer.
  public var decisionId: String
  /// The offer the outcome is for; it must be one the decision made.
  public var offerId: String
  /// What happened.
  public var outcome: OutcomeKind
  /// The value realised (e.g. the amount of a converted loan), in the catalogue's currency; nil when unknown.
  public var value: Double?
  /// Why the customer declined, e.g. "too-expensive"; empty when not given (at most
  /// ``InteractionLog/maxDeclineReasonCharacters``).
  public var declineReason: String
  /// 0 means now.
  public var timestampMillis: Int64

  /// Creates a report; by default with no value or decline reason, timed now.
  public init(
    decisionId: String, offerId: String, outcome: OutcomeKind, value: Double? = nil, declineReason: String = "",
    timestampMillis: Int64 = 0
  ) {
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
  /// The decision that made the offer.
  public var decisionId: String
  /// The offer made or answered.
  public var offerId: String
  /// The channel the offer was made on.
  public var channel: Channel
  /// nil for an offer made with no outcome reported yet.
  public var outcome: OutcomeKind?
  /// When the offer was made or the outcome recorded, in milliseconds since the Unix epoch.
  public var timestampMillis: Int64
  /// Why the customer declined; empty when not a decline or not given.
  public var declineReason: String

  /// Creates an entry; `outcome` is nil for an offer made with no outcome yet.
  public init(
    decisionId: String, offerId: String, channel: Channel, outcome: OutcomeKind?, timestampMillis: Int64,
    declineReason: String = ""
  ) {
    self.decisionId = decisionId
    self.offerId = offerId
    self.channel = channel
    self.outcome = outcome
    self.timestampMillis = timestampMillis
    self.declineReason = declineReason
  }
}

/// The interaction log: every decision (with the offers made, their factors and the
/// probability each was drawn with) and every outcome, appended as JSON lines
/// (``InteractionLogLines``) to a file (``InteractionLogFile``), plus what outcome validation and
/// the contact policy need, kept in memory in fixed rings (``InteractionHistory``).
///
/// Decision lines are buffered and written by the file's own writer queue; outcomes are
/// validated as a batch (the decision must be remembered and must have made the offer, the time
/// must be plausible; a repeated outcome is acknowledged without being recorded twice) and are
/// written before ``record(_:)`` returns.
public final class InteractionLog: Sendable {
  struct State {
    var history: InteractionHistory
    var pending: [UInt8] = []
    var decisionsLogged: UInt64 = 0
    var shadowsLogged: UInt64 = 0
    var outcomesLogged: UInt64 = 0
  }

  /// Sequences of decisions the log did not make carry this bit.
  static let foreignBit = DecisionID.foreignBit
  /// How many recent decisions outcomes can refer to.
  public let decisionCapacity: Int
  /// How many offers of those decisions are held (a decision is remembered while its offers are).
  public let offerCapacity: Int
  /// How many offers and outcomes the history ring holds (all customers together).
  public let historyCapacity: Int
  /// How many history entries are read per customer.
  public let historyPerCustomer = 50
  /// How far ahead of the server clock an outcome's time may be (a client's clock runs ahead),
  /// and how far before its decision.
  public let maxClockSkewMillis: Int64
  /// The longest decline reason accepted, in characters (Unicode scalars, as JSON Schema counts).
  public static let maxDeclineReasonCharacters = 1_000
  /// How many outcomes one call may record.
  public static let maxOutcomesPerCall = 10_000
  /// This log's instance: a random number chosen when the log file is created (or when the log
  /// is in memory only), part of every decision id. A restarted server continues the instance and
  /// sequence of the file's newest decision, so the ids its predecessor gave out stay valid.
  public let instanceId: UInt32
  private let instanceText: String
  private let sequenceCounter: Atomic<UInt64>
  private let state: Mutex<State>
  private let file: InteractionLogFile?
  /// The log file, nil when the log is in memory only.
  public var path: String? { file?.path }
  /// What was read back from the log file at start.
  public let restored: RestoreReport

  /// What a restart read back from the log file: the newest decisions (up to the decision ring's
  /// capacity) and the outcomes after them, into the rings outcomes and the contact policy read.
  public struct RestoreReport: Sendable, Equatable {
    /// Decisions read back from the file.
    public var decisions = 0
    /// Outcomes read back from the file (of decisions read back).
    public var outcomes = 0
    /// Outcomes whose decision is older than the decisions read back.
    public var outcomesOfOlderDecisions = 0
    /// Lines that are not valid log lines (a line cut short by a crash), skipped.
    public var malformedLines = 0

    /// A report of these counts.
    public init(decisions: Int = 0, outcomes: Int = 0, outcomesOfOlderDecisions: Int = 0, malformedLines: Int = 0) {
      self.decisions = decisions
      self.outcomes = outcomes
      self.outcomesOfOlderDecisions = outcomesOfOlderDecisions
      self.malformedLines = malformedLines
    }
  }

  /// Opens (creating if needed) the log at `path` for appending; nil keeps it in memory only.
  /// An existing file's newest decisions and outcomes are read back into the rings (see
  /// ``restored``). `offerCapacity` defaults to eight offers per remembered decision;
  /// `expectedCustomers` sizes the per-customer index up front (so it does not grow while
  /// serving); decline reasons are kept within `declineReasonBytes`.
  public init(
    path: String?, decisionCapacity: Int = 1_000_000, offerCapacity: Int? = nil, historyCapacity: Int = 4_000_000,
    expectedCustomers: Int = 0, maxClockSkewMillis: Int64 = 300_000, declineReasonBytes: Int = 16 << 20
  ) throws(ArbiterError) {
    self.decisionCapacity = max(1, decisionCapacity)
    self.offerCapacity = max(1, offerCapacity ?? self.decisionCapacity * 8)
    self.historyCapacity = max(1, historyCapacity)
    self.maxClockSkewMillis = max(0, maxClockSkewMillis)
    let replay: InteractionLogReplay? = try path.map { (path: String) throws(ArbiterError) in
      try InteractionLogReplay(path: path, decisionLimit: max(1, decisionCapacity))
    }
    let continued = Self.continuedSequence(replay?.lines ?? [])
    if let continued {
      instanceId = continued.instance
      // After a gap wider than the decisions that can have been made but not written (the
      // buffer, calls in flight); the gap is 1 modulo the ring's size, so the next decision
      // takes the ring's oldest slot.
      let capacity = UInt64(self.decisionCapacity)
      let gap = capacity * ((65_536 + capacity - 1) / capacity) + 1
      sequenceCounter = Atomic(continued.sequence + gap - 1)
    } else {
      var generator = SystemRandomNumberGenerator()
      instanceId = UInt32.random(in: 0...UInt32.max, using: &generator)
      sequenceCounter = Atomic(0)
    }
    instanceText = String(instanceId, radix: 16)
    var history = InteractionHistory(
      decisions: self.decisionCapacity, offers: self.offerCapacity, history: self.historyCapacity,
      expectedCustomers: expectedCustomers, declineReasonBytes: declineReasonBytes)
    var report = RestoreReport()
    if let replay {
      report.malformedLines = replay.malformed
      history.restore(replay.lines, instance: instanceId, into: &report)
    }
    restored = report
    state = Mutex(State(history: history))
    file = try path.map { (path: String) throws(ArbiterError) in
      try InteractionLogFile(path: path, endsInsideLine: replay?.endsInsideLine == true)
    }
  }

  /// The instance and highest sequence of the newest decision's instance in read-back lines.
  private static func continuedSequence(_ lines: [InteractionLogReplay.Line]) -> (instance: UInt32, sequence: UInt64)? {
    var newest: DecisionID?
    for line in lines.reversed() {
      guard case .decision(let id, _, _, _, _) = line, let parsed = DecisionID(parsing: id) else { continue }
      newest = parsed
      break
    }
    guard let instance = newest?.instance else { return nil }
    var sequence: UInt64 = 0
    for case .decision(let id, _, _, _, _) in lines {
      if let parsed = DecisionID(parsing: id), parsed.instance == instance { sequence = max(sequence, parsed.sequence) }
    }
    return (instance, sequence)
  }

  /// A new decision's sequence number and id (see ``DecisionID``): its kind, this log's instance
  /// and the sequence.
  public func makeDecisionId(kind: DecisionID.Kind) -> (sequence: UInt64, id: String) {
    let sequence = sequenceCounter.wrappingAdd(1, ordering: .relaxed).newValue
    return (sequence, DecisionID.text(kind: kind, instanceText: instanceText, sequence: sequence))
  }

  /// Remembers a decision so outcomes can refer to it, adds its offers to the customer's
  /// history, and logs it (buffered). `sequence` is the one ``makeDecisionId(kind:)`` gave
  /// with the decision's id, or nil for an id made elsewhere.
  public func record(_ decision: Decision, sequence: UInt64? = nil) {
    let toWrite: [UInt8]? = JSONLineWriter.withLine(bound: InteractionLogLines.bound(of: decision)) { line in
      InteractionLogLines.decision(decision, type: "decision", channel: true, into: &line)
      return remember(decision, sequence: sequence, line: line.bytes)
    }
    if let toWrite { file?.append(toWrite) }
  }

  /// Keeps the decision in the rings and buffers its line; returns bytes to write, if due.
  private func remember(_ decision: Decision, sequence: UInt64?, line: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
    state.withLock { state in
      // By index: a copy of each offer would retain all its strings.
      let made = min(decision.offers.count, Int(UInt16.max))
      state.history.remember(
        id: decision.decisionId, sequence: sequence, customerId: decision.customerId, channel: decision.channel,
        timestampMillis: decision.timestampMillis, offerCount: made,
        heldOutCount: min(decision.controls.count, Int(UInt16.max))
      ) { history, i in
        guard i < made else { return history.code(of: decision.controls[i - made].offerId) }
        return history.code(
          of: decision.offers[i].offerId, index: decision.offers[i].offerIndex, versions: decision.versions)
      }
      state.decisionsLogged += 1
      return Self.buffer(line, in: &state)
    }
  }

  /// Logs what a challenger would have decided (shadow scoring); it changes nothing else.
  public func recordShadow(_ decision: Decision) {
    let toWrite: [UInt8]? = JSONLineWriter.withLine(bound: InteractionLogLines.bound(of: decision)) { line in
      InteractionLogLines.decision(decision, type: "shadow", channel: false, into: &line)
      return state.withLock { state in
        state.shadowsLogged += 1
        return Self.buffer(line.bytes, in: &state)
      }
    }
    if let toWrite { file?.append(toWrite) }
  }

  /// Adds a line to the buffer; returns the buffer's bytes to write once it holds 64 KiB.
  private static func buffer(_ line: UnsafeBufferPointer<UInt8>, in state: inout State) -> [UInt8]? {
    state.pending.append(contentsOf: line)
    guard state.pending.count >= 64 * 1024 else { return nil }
    defer { state.pending.removeAll(keepingCapacity: true) }
    return state.pending
  }

  /// The customer a remembered decision was made for (0 for an anonymous visitor), or nil when
  /// the decision is not remembered.
  public func customer(ofDecision id: String) -> UInt64? {
    state.withLock { state in state.history.slot(of: id, instance: instanceId)?.customerId }
  }

  /// What happened to one offer since the log began (decisions read back at start included).
  public struct OfferTally: Sendable, Hashable {
    /// The offer.
    public var offerId: String
    /// Times made (shown).
    public var made: UInt64
    /// Times held out for its control group.
    public var heldOut: UInt64
    /// Outcomes recorded, by kind.
    public var impressions: UInt64, clicks: UInt64, accepted: UInt64, declined: UInt64, converted: UInt64
    /// Conversions reported while held out (the control group's side of the lift).
    public var controlConverted: UInt64
  }

  /// Every offer's tally, in the order the log first saw them.
  public func offerTallies() -> [OfferTally] {
    state.withLock { state in
      state.history.tallies.enumerated().map { code, tally in
        let o = tally.outcomes
        func count(_ kind: OutcomeKind) -> UInt64 { o[Int(InteractionHistory.code(of: kind))] }
        return OfferTally(
          offerId: state.history.offerIds[code], made: tally.made, heldOut: tally.heldOut,
          impressions: count(.impression), clicks: count(.click), accepted: count(.accept),
          declined: count(.decline), converted: count(.convert), controlConverted: tally.heldOutConverted)
      }
    }
  }

  /// How many shadow decisions were logged.
  public var shadowCount: UInt64 { state.withLock { $0.shadowsLogged } }

  /// Validates and appends outcomes: all or none. An outcome already recorded (the same
  /// outcome of the same offer of the same decision, as a retry sends it) is acknowledged and
  /// not recorded again. Returns how many were acknowledged (all of them).
  public func record(_ outcomes: [OutcomeReport]) throws(ArbiterError) -> Int {
    let now = Int64(Date().timeIntervalSince1970 * 1000)
    let resolved = try state.withLock { state throws(ArbiterError) in try resolve(outcomes, now: now, state.history) }
    // Applied in chunks, so that decisions on other threads wait for one chunk at most.
    var lines: [UInt8] = []
    var start = 0
    while start < resolved.count {
      let end = min(resolved.count, start + 1_000)
      state.withLock { state in
        if start == 0 {
          // Buffered decision lines go first, so the file keeps decisions before their outcomes.
          lines = state.pending
          state.pending.removeAll(keepingCapacity: true)
        }
        for item in resolved[start..<end] {
          let report = outcomes[item.index]
          // A retry racing its original: the second to get here finds it recorded.
          if state.history.hasOutcome(report.outcome, of: item.decision, offer: item.offer) { continue }
          state.history.appendOutcome(
            of: item.decision, offer: item.offer, outcome: report.outcome, timestampMillis: item.timestampMillis,
            declineReason: report.declineReason, control: item.control)
          InteractionLogLines.outcome(
            report, customerId: item.decision.customerId, timestampMillis: item.timestampMillis, into: &lines)
          state.outcomesLogged += 1
        }
      }
      start = end
    }
    if let file { file.appendAndWait(lines) }
    return outcomes.count
  }

  /// One outcome found valid and not yet recorded: its report's index, its decision, the offer's
  /// code and its time. It is looked for again when applied, under the lock taken then, since a
  /// retry may have been recorded in between.
  private struct ResolvedOutcome {
    var index: Int
    var decision: InteractionHistory.DecisionSlot
    var offer: UInt32
    var timestampMillis: Int64
    /// A conversion of an offer held out for its control group.
    var control = false
  }

  /// Checks every outcome against the rings; throws naming the first bad one. Leaves out those
  /// already recorded (and repeats within the batch).
  private func resolve(
    _ outcomes: [OutcomeReport], now: Int64, _ history: borrowing InteractionHistory
  ) throws(ArbiterError) -> [ResolvedOutcome] {
    guard outcomes.count <= Self.maxOutcomesPerCall else {
      throw ArbiterError(
        .invalidArgument, "at most \(Self.maxOutcomesPerCall) outcomes per call, got \(outcomes.count)")
    }
    var resolved: [ResolvedOutcome] = []
    resolved.reserveCapacity(outcomes.count)
    var seen = Set<OutcomeIdentity>()
    for (i, outcome) in outcomes.enumerated() {
      guard let decision = history.slot(of: outcome.decisionId, instance: instanceId) else {
        throw ArbiterError(
          .notFound, "outcome \(i): decision '\(outcome.decisionId)' not found (or no longer remembered)")
      }
      guard let code = history.offerCodes[outcome.offerId] else {
        throw ArbiterError(
          .invalidArgument, "outcome \(i): decision '\(outcome.decisionId)' did not make offer '\(outcome.offerId)'")
      }
      let control = !history.made(decision, offer: code)
      if control {
        // A held-out offer was not shown: only a conversion (the customer took the product
        // anyway) can be reported for it, which measures the lift.
        guard history.heldOut(decision, offer: code) else {
          throw ArbiterError(
            .invalidArgument,
            "outcome \(i): decision '\(outcome.decisionId)' did not make offer '\(outcome.offerId)'")
        }
        guard outcome.outcome == .convert else {
          throw ArbiterError(
            .invalidArgument,
            "outcome \(i): offer '\(outcome.offerId)' was held out for its control group, not shown; "
              + "only OUTCOME_CONVERT can be reported for it")
        }
      }
      let timestamp = try checkedTime(of: outcome, index: i, decision: decision, now: now)
      try checkFields(of: outcome, index: i)
      guard seen.insert(OutcomeIdentity(sequence: decision.sequence, offer: code, outcome: outcome.outcome)).inserted,
        !history.hasOutcome(outcome.outcome, of: decision, offer: code)
      else { continue }
      resolved.append(
        ResolvedOutcome(index: i, decision: decision, offer: code, timestampMillis: timestamp, control: control))
    }
    return resolved
  }

  private struct OutcomeIdentity: Hashable {
    var sequence: UInt64
    var offer: UInt32
    var outcome: OutcomeKind
  }

  /// The outcome's time (now when it gives none): not ahead of the server clock by more than the
  /// allowed skew (it would block the offer under the contact policy until then), nor before its
  /// decision by more than that.
  private func checkedTime(
    of outcome: OutcomeReport, index i: Int, decision: InteractionHistory.DecisionSlot, now: Int64
  ) throws(ArbiterError) -> Int64 {
    guard outcome.timestampMillis != 0 else { return now }
    let skew = maxClockSkewMillis
    guard outcome.timestampMillis <= now &+ skew else {
      throw ArbiterError(
        .invalidArgument,
        "outcome \(i): its time \(outcome.timestampMillis) ms is ahead of the server clock (\(now) ms) "
          + "by more than \(skew) ms"
      )
    }
    guard outcome.timestampMillis >= decision.timestampMillis &- skew else {
      throw ArbiterError(
        .invalidArgument,
        "outcome \(i): its time \(outcome.timestampMillis) ms is before its decision's (\(decision.timestampMillis) ms)"
      )
    }
    return outcome.timestampMillis
  }

  /// The value must be a number, the decline reason bounded.
  private func checkFields(of outcome: OutcomeReport, index i: Int) throws(ArbiterError) {
    if let value = outcome.value, !value.isFinite {
      throw ArbiterError(.invalidArgument, "outcome \(i): its value must be finite")
    }
    let reasonLength = outcome.declineReason.unicodeScalars.count
    guard reasonLength <= Self.maxDeclineReasonCharacters else {
      throw ArbiterError(
        .invalidArgument,
        "outcome \(i): its decline reason is \(reasonLength) characters, at most \(Self.maxDeclineReasonCharacters)")
    }
  }

  /// A customer's recent offers and outcomes, newest first.
  public func recent(customerId: UInt64, limit: Int) -> [InteractionEntry] {
    state.withLock { state in
      var entries: [InteractionEntry] = []
      state.history.walk(customerId, limit: limit) { position, entry in
        entries.append(
          InteractionEntry(
            decisionId: decisionId(of: entry, state.history), offerId: state.history.offerIds[Int(entry.offer)],
            channel: entry.channel, outcome: entry.outcome == 0 ? nil : OutcomeKind.allCases[Int(entry.outcome) - 1],
            timestampMillis: entry.timestampMillis, declineReason: state.history.declineReasons[position] ?? ""))
        return true
      }
      return entries
    }
  }

  /// What the contact policy reads of a customer's recent offers and outcomes, newest first
  /// (no decision ids spelt out).
  public func contacts(customerId: UInt64, limit: Int) -> [ContactRecord] {
    state.withLock { state in
      var records: [ContactRecord] = []
      state.history.walk(customerId, limit: limit) { _, entry in
        records.append(
          ContactRecord(
            decision: entry.sequence, offerId: state.history.offerIds[Int(entry.offer)], channel: entry.channel,
            outcome: entry.outcome == 0 ? nil : OutcomeKind.allCases[Int(entry.outcome) - 1],
            timestampMillis: entry.timestampMillis))
        return true
      }
      return records
    }
  }

  /// The id of the decision a history entry belongs to.
  private func decisionId(of entry: InteractionHistory.HistorySlot, _ history: borrowing InteractionHistory) -> String {
    if entry.sequence & Self.foreignBit != 0 { return history.foreignIds[entry.sequence] ?? "" }
    guard let kind = DecisionID.Kind(rawValue: entry.kind) else { return "" }
    return DecisionID.text(kind: kind, instanceText: instanceText, sequence: entry.sequence)
  }

  /// Counts of decisions and outcomes logged since start.
  public var counts: (decisions: UInt64, outcomes: UInt64) {
    state.withLock { ($0.decisionsLogged, $0.outcomesLogged) }
  }

  /// How many decline reasons are held in memory, and their bytes.
  public var declineReasonsHeld: (count: Int, bytes: Int) {
    state.withLock { ($0.history.declineReasons.count, $0.history.declineReasons.bytes) }
  }

  /// Writes buffered decision lines (and waits until they are written).
  /// Makes a customer's part of the log anonymous (erasure): their entries leave the in-memory
  /// history, and every line of theirs, buffered or in the file, loses the customer id, visitor
  /// id and decline reasons (``InteractionLogAnonymiser``). The file is rewritten on its writer
  /// queue: appends wait meanwhile, decisions do not. Returns the lines changed and the history
  /// entries cleared.
  public func anonymise(customerId: UInt64) throws(ArbiterError) -> (lines: Int, historyEntries: Int) {
    let anonymiser = InteractionLogAnonymiser(customerId: customerId)
    let (pending, cleared) = state.withLock { state in
      defer { state.pending.removeAll(keepingCapacity: true) }
      return (state.pending, state.history.forget(customerId))
    }
    guard let file else { return (0, cleared) }
    file.append(pending)
    let lines = try file.rewrite { text in anonymiser.anonymised(text: text) }
    return (lines, cleared)
  }

  public func flush() {
    let data = state.withLock { state in
      defer { state.pending.removeAll(keepingCapacity: true) }
      return state.pending
    }
    file?.appendAndWait(data)
  }
}
