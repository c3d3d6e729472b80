import ArbiterCore

/// What the interaction log keeps in memory, in fixed-size rings of plain values, for outcome
/// validation and the contact policy:
/// - the recent decisions (customer, channel, time, where their offers are), by sequence number:
///   an outcome's decision id names its slot (see ``DecisionID``);
/// - the offers of those decisions, as codes, in the offer ring;
/// - the recent offers and outcomes of all customers, chained per customer, newest first.
///
/// A decision is remembered while both its slot and its offers are still held: with decisions
/// of many offers the offer ring, not the decision ring, bounds how far back outcomes may refer.
/// Nothing here is keyed by a string or allocated per decision; a decision whose id the log did
/// not make is still remembered, through a small map from its id.
struct InteractionHistory {
  /// A recent decision, in the ring at `sequence % capacity`.
  struct DecisionSlot {
    var sequence: UInt64 = 0
    var customerId: UInt64 = 0
    var timestampMillis: Int64 = 0
    /// Absolute position of the decision's first offer code in the offer ring, and how many.
    var offerStart: UInt64 = 0
    var offerCount: UInt16 = 0
    /// Offers held out for their control group, after the made ones in the ring: a conversion
    /// may be reported for them, to measure lift.
    var heldOutCount: UInt16 = 0
    var channel: Channel = .web
    /// The decision's kind (its id's letter, ``DecisionID/Kind``'s raw value); 0 for a foreign id.
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
    /// The decision's kind, as in ``DecisionSlot``.
    var kind: UInt8 = 0
  }

  var decisions: [DecisionSlot]
  var offers: [UInt32]
  var offersWritten: UInt64 = 0
  var history: [HistorySlot]
  var historyWritten: UInt64 = 0
  /// Customer → position + 1 of their newest history entry.
  var heads: [UInt64: UInt64]
  /// The decline reasons of outcomes still in the history ring, within a byte budget.
  var declineReasons: DeclineReasons
  /// Offer ids as codes.
  var offerCodes: [String: UInt32] = [:]
  var offerIds: [String] = []
  /// Decisions with ids the log did not make: id → sequence, and back.
  var foreignSequences: [String: UInt64] = [:]
  var foreignIds: [UInt64: String] = [:]
  var foreignOrder: [UInt64] = []
  var nextForeign: UInt64 = 1
  /// Codes by catalogue index for the decisions of one engine (its version stamp): a guess
  /// checked against the id, so that a decision's offers are coded without hashing their ids.
  var codesByIndex: [UInt32] = []
  var codesOf: ObjectIdentifier?
  /// By offer code: how often the offer was made and held out, and its outcomes by kind (see
  /// ``code(of:)-swift.type.method``), since the log began.
  var tallies: [Tally] = []

  /// What happened to one offer.
  struct Tally {
    var made: UInt64 = 0
    var heldOut: UInt64 = 0
    /// By outcome code (1 impression … 5 convert); 0 unused.
    var outcomes = SIMD8<UInt64>(repeating: 0)
    /// Conversions reported for the offer while held out.
    var heldOutConverted: UInt64 = 0
  }

  /// Counts one more of the offer with `code` made (or, `heldOut`, held out for its control group).
  mutating func tally(code: UInt32, heldOut: Bool) {
    if Int(code) >= tallies.count {
      tallies.append(contentsOf: repeatElement(Tally(), count: Int(code) + 1 - tallies.count))
    }
    if heldOut { tallies[Int(code)].heldOut += 1 } else { tallies[Int(code)].made += 1 }
  }

  init(decisions: Int, offers: Int, history: Int, expectedCustomers: Int, declineReasonBytes: Int) {
    self.decisions = [DecisionSlot](repeating: DecisionSlot(), count: decisions)
    self.offers = [UInt32](repeating: 0, count: offers)
    self.history = [HistorySlot](repeating: HistorySlot(), count: history)
    self.heads = Dictionary(minimumCapacity: max(0, expectedCustomers))
    self.declineReasons = DeclineReasons(byteBudget: declineReasonBytes)
  }

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
      if index >= codesByIndex.count {
        codesByIndex.append(contentsOf: repeatElement(UInt32.max, count: index + 1 - codesByIndex.count))
      }
      codesByIndex[index] = code
    }
    return code
  }

  /// Puts a decision in the decision ring and its offers in the offer ring and the customer's
  /// history; `sequence` is nil for an id the log did not make. `code` gives offer `i`'s code.
  mutating func remember(
    id: String, sequence: UInt64?, customerId: UInt64, channel: Channel, timestampMillis: Int64, offerCount: Int,
    heldOutCount: Int = 0, code: (inout InteractionHistory, Int) -> UInt32
  ) {
    let seq = sequence ?? foreignSequence(for: id)
    let offerCapacity = UInt64(offers.count)
    let kind = sequence == nil ? 0 : id.utf8.first ?? 0
    var slot = DecisionSlot(
      sequence: seq, customerId: customerId, timestampMillis: timestampMillis, offerStart: offersWritten, offerCount: 0,
      channel: channel, kind: kind)
    if offerCount > 0 {
      var previous = heads[customerId] ?? 0
      for i in 0..<offerCount {
        let code = code(&self, i)
        tally(code: code, heldOut: false)
        offers[Int(offersWritten % offerCapacity)] = code
        offersWritten += 1
        slot.offerCount += 1
        previous =
          1
          + appendHistory(
            HistorySlot(
              previous: previous, customerId: customerId, sequence: seq, timestampMillis: timestampMillis, offer: code,
              channel: channel, outcome: 0, kind: kind))
      }
      heads[customerId] = previous
    }
    for i in offerCount..<(offerCount + heldOutCount) {
      let code = code(&self, i)
      tally(code: code, heldOut: true)
      offers[Int(offersWritten % offerCapacity)] = code
      offersWritten += 1
      slot.heldOutCount += 1
    }
    decisions[Int(seq % UInt64(decisions.count))] = slot
  }

  /// A sequence for a decision whose id the log did not make, remembered in the foreign map
  /// (which keeps as many as the decision ring).
  private mutating func foreignSequence(for id: String) -> UInt64 {
    let seq = DecisionID.foreignBit | nextForeign
    nextForeign += 1
    if let old = foreignSequences.updateValue(seq, forKey: id) { foreignIds[old] = nil }
    foreignIds[seq] = id
    foreignOrder.append(seq)
    if foreignOrder.count > decisions.count {
      let evicted = foreignOrder.removeFirst()
      if let id = foreignIds.removeValue(forKey: evicted), foreignSequences[id] == evicted {
        foreignSequences[id] = nil
      }
    }
    return seq
  }

  /// The remembered decision an id names (`instance`: the log's), if both it and its offers are
  /// still in the rings.
  func slot(of id: String, instance: UInt32) -> DecisionSlot? {
    let parsed = DecisionID(parsing: id)
    let own = parsed.flatMap { $0.instance == instance ? $0.sequence : nil }
    guard let sequence = own ?? foreignSequences[id] else { return nil }
    let slot = decisions[Int(sequence % UInt64(decisions.count))]
    guard slot.sequence == sequence, sequence & DecisionID.foreignBit != 0 || slot.kind == parsed?.kind.rawValue else {
      return nil
    }
    return slot.offerStart + UInt64(offers.count) >= offersWritten ? slot : nil
  }

  /// Whether the remembered decision held out the offer with this code for its control group.
  func heldOut(_ decision: DecisionSlot, offer code: UInt32) -> Bool {
    let capacity = UInt64(offers.count)
    let start = decision.offerStart + UInt64(decision.offerCount)
    return (0..<UInt64(decision.heldOutCount)).contains { offers[Int((start + $0) % capacity)] == code }
  }

  /// Whether the remembered decision made the offer with this code.
  func made(_ decision: DecisionSlot, offer code: UInt32) -> Bool {
    let capacity = UInt64(offers.count)
    return (0..<UInt64(decision.offerCount)).contains { offers[Int((decision.offerStart + $0) % capacity)] == code }
  }

  /// Whether the customer's history already holds this outcome of this offer of the decision:
  /// looked for among the entries newer than the decision's own offers.
  func hasOutcome(_ outcome: OutcomeKind, of decision: DecisionSlot, offer code: UInt32) -> Bool {
    let outcomeCode = Self.code(of: outcome)
    var found = false
    walk(decision.customerId, limit: .max) { _, entry in
      if entry.sequence == decision.sequence && entry.offer == code {
        if entry.outcome == outcomeCode { found = true }
        if entry.outcome == 0 { return false }
      }
      return !found
    }
    return found
  }

  static func code(of outcome: OutcomeKind) -> UInt8 { UInt8(OutcomeKind.allCases.firstIndex(of: outcome)! + 1) }

  /// Adds an outcome of a remembered decision to the customer's history.
  mutating func appendOutcome(
    of decision: DecisionSlot, offer: UInt32, outcome: OutcomeKind, timestampMillis: Int64, declineReason: String,
    control: Bool = false
  ) {
    let position = appendHistory(
      HistorySlot(
        previous: heads[decision.customerId] ?? 0, customerId: decision.customerId, sequence: decision.sequence,
        timestampMillis: timestampMillis, offer: offer, channel: decision.channel, outcome: Self.code(of: outcome),
        kind: decision.kind))
    heads[decision.customerId] = position + 1
    if Int(offer) < tallies.count {
      if control {
        tallies[Int(offer)].heldOutConverted += 1
      } else {
        tallies[Int(offer)].outcomes[Int(Self.code(of: outcome))] += 1
      }
    }
    if !declineReason.isEmpty {
      let oldest = historyWritten > UInt64(history.count) ? historyWritten - UInt64(history.count) : 0
      declineReasons.add(declineReason, at: position, oldestHeld: oldest)
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

  /// Visits up to `limit` of the customer's entries still in the ring, newest first, while
  /// `visit` returns true.
  func walk(_ customerId: UInt64, limit: Int, _ visit: (UInt64, HistorySlot) -> Bool) {
    var next = heads[customerId] ?? 0
    let capacity = UInt64(history.count)
    var count = 0
    while next != 0, count < limit {
      let position = next - 1
      guard position + capacity >= historyWritten else { break }
      let entry = history[Int(position % capacity)]
      guard entry.customerId == customerId, visit(position, entry) else { break }
      count += 1
      next = entry.previous
    }
  }

  /// Forgets a customer (erasure): their entries in the history ring are cleared (with their
  /// decline reasons) and their decisions no longer name them, so outcomes still reported for
  /// those decisions are recorded anonymously. Returns how many history entries were cleared.
  mutating func forget(_ customerId: UInt64) -> Int {
    var positions: [UInt64] = []
    walk(customerId, limit: .max) { position, _ in
      positions.append(position)
      return true
    }
    let capacity = UInt64(history.count)
    for position in positions {
      history[Int(position % capacity)] = HistorySlot()
      declineReasons.remove(at: position)
    }
    heads[customerId] = nil
    for i in decisions.indices where decisions[i].customerId == customerId { decisions[i].customerId = 0 }
    return positions.count
  }

  /// Replays read-back lines into the rings, as the log did when they were written.
  mutating func restore(
    _ lines: [InteractionLogReplay.Line], instance: UInt32, into report: inout InteractionLog.RestoreReport
  ) {
    for line in lines {
      switch line {
      case .decision(let id, let customerId, let channel, let timestampMillis, let offerIds):
        let parsed = DecisionID(parsing: id)
        remember(
          id: id, sequence: parsed?.instance == instance ? parsed?.sequence : nil, customerId: customerId,
          channel: channel,
          timestampMillis: timestampMillis, offerCount: offerIds.count
        ) { state, i in state.code(of: offerIds[i]) }
        report.decisions += 1
      case .outcome(let decisionId, let offerId, let outcome, let timestampMillis, let declineReason):
        guard let decision = slot(of: decisionId, instance: instance) else {
          report.outcomesOfOlderDecisions += 1
          continue
        }
        appendOutcome(
          of: decision, offer: code(of: offerId), outcome: outcome, timestampMillis: timestampMillis,
          declineReason: declineReason)
        report.outcomes += 1
      case .other:
        continue
      }
    }
  }
}

/// The decline reasons of the outcomes in the history ring, by history position: kept within a
/// byte budget, the oldest dropped first. Adding one costs O(1) amortised, however many are held.
struct DeclineReasons {
  let byteBudget: Int
  private var byPosition: [UInt64: String] = [:]
  /// Positions in the order added, from `head` on.
  private var order: [UInt64] = []
  private var head = 0
  private(set) var bytes = 0

  init(byteBudget: Int) { self.byteBudget = max(0, byteBudget) }

  /// The reason given with the outcome at `position`, if it is still held.
  subscript(position: UInt64) -> String? { byPosition[position] }

  /// How many reasons are held.
  var count: Int { byPosition.count }

  /// Drops the reason of the outcome at `position` (its customer was erased).
  mutating func remove(at position: UInt64) {
    if let dropped = byPosition.removeValue(forKey: position) { bytes -= dropped.utf8.count }
  }

  /// Keeps `reason` for the outcome at `position`; drops reasons of positions before
  /// `oldestHeld` (overwritten in the ring) and the oldest ones while over the budget.
  mutating func add(_ reason: String, at position: UInt64, oldestHeld: UInt64) {
    byPosition[position] = reason
    order.append(position)
    bytes += reason.utf8.count
    while head < order.count, order[head] < oldestHeld || bytes > byteBudget {
      if let dropped = byPosition.removeValue(forKey: order[head]) { bytes -= dropped.utf8.count }
      head += 1
    }
    if head > 1_024 && head * 2 > order.count {
      order.removeFirst(head)
      head = 0
    }
  }
}
