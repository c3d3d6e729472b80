import ArbiterCore
import Atomics
import Synchronization

/// Every customer's consents, kept with the store: per row one ``ConsentSet`` word that decisions
/// read with one atomic load (no lock), and per customer the records behind it (when and where
/// each consent was given or withdrawn) for profiles, snapshots and erasure.
///
/// Words live in segments of 65,536 rows, allocated when a row's first consent is recorded; the
/// segment table has a fixed capacity, so readers index it without locks. Only the store's
/// writer (under its lock) changes anything.
final class ConsentLedger: @unchecked Sendable {
  private static let rowsPerSegment = RowSegments.rowsPerSegment
  private static let segmentShift = RowSegments.segmentShift
  /// Segment base addresses as integers (0: not allocated yet).
  private let table: UnsafeMutablePointer<UnsafeAtomic<UInt>.Storage>
  private let details = Mutex(Details())
  private let recordCount = ManagedAtomic<Int>(0)

  init() {
    table = .allocate(capacity: RowSegments.maxSegments)
    table.initialize(repeating: UnsafeAtomic<UInt>.Storage(0), count: RowSegments.maxSegments)
  }

  deinit {
    for index in 0..<RowSegments.maxSegments {
      let base = segment(index).load(ordering: .relaxed)
      if base != 0 { UnsafeMutablePointer<UInt64>(bitPattern: base)?.deallocate() }
    }
    table.deallocate()
  }

  @inline(__always) private func segment(_ index: Int) -> UnsafeAtomic<UInt> {
    UnsafeAtomic(at: table + index)
  }

  @inline(__always) private func word(_ row: Int, in base: UInt) -> UnsafeAtomic<UInt64> {
    let pointer = UnsafeMutablePointer<UnsafeAtomic<UInt64>.Storage>(bitPattern: base)!
    return UnsafeAtomic(at: pointer + (row & (Self.rowsPerSegment - 1)))
  }

  /// The consents of `row`; lock-free and allocation-free.
  @inline(__always) func consents(row: Int) -> ConsentSet {
    let base = segment(row >> Self.segmentShift).load(ordering: .acquiring)
    guard base != 0 else { return .none }
    return ConsentSet(bits: word(row, in: base).load(ordering: .acquiring))
  }

  /// How many consent records the ledger holds (every customer's).
  var count: Int { recordCount.load(ordering: .relaxed) }

  /// The customer's records, in channel then purpose order.
  func records(of customerId: UInt64) -> [ConsentRecord] {
    details.withLock { details in (details.byCustomer[customerId] ?? []).map { details.unpack($0) } }
  }

  /// The recorded consent of `customerId` for `channel` and `purpose`, if any.
  func record(of customerId: UInt64, _ channel: Channel, _ purpose: ConsentPurpose) -> ConsentRecord? {
    details.withLock { details in
      details.byCustomer[customerId]?.first { Details.key($0) == Details.key(channel, purpose) }.map {
        details.unpack($0)
      }
    }
  }

  /// Visits every record, for a snapshot: the packed records are taken under the lock as a
  /// copy-on-write copy (no bytes copied then) and unpacked one at a time outside it, so that a
  /// store of millions of customers is written without a second copy of them in memory.
  func forEachRecord(_ visit: (_ customerId: UInt64, _ record: ConsentRecord) -> Void) {
    let copy = details.withLock { $0 }
    for (id, packed) in copy.byCustomer {
      for record in packed { visit(id, copy.unpack(record)) }
    }
  }

  /// Why `record` cannot be kept (its source would be one too many), nil when it can.
  func problem(with record: ConsentRecord) -> String? {
    details.withLock { details in
      details.sourceIndex[record.source] == nil && details.sources.count >= Details.maxSources
        ? "the store already holds \(Details.maxSources) distinct consent sources; reuse one" : nil
    }
  }

  /// Records `record` for the customer at `row`, replacing the one for the same channel and
  /// purpose. Writer only; ``problem(with:)`` said yes.
  func apply(_ record: ConsentRecord, customerId: UInt64, row: Int) {
    let added = details.withLock { details -> Bool in
      let packed = details.pack(record)
      // Kept in channel and purpose order: replaced in place, or inserted where it belongs.
      let key = Details.key(packed)
      var list = details.byCustomer.removeValue(forKey: customerId) ?? []
      defer { details.byCustomer[customerId] = list }
      let at = list.firstIndex { Details.key($0) >= key } ?? list.count
      if at < list.count, Details.key(list[at]) == key {
        list[at] = packed
        return false
      }
      list.insert(packed, at: at)
      return true
    }
    if added { recordCount.wrappingIncrement(ordering: .relaxed) }
    let word = word(row, in: allocateSegment(for: row))
    var set = ConsentSet(bits: word.load(ordering: .relaxed))
    set.set(record.state, record.channel, record.purpose)
    word.store(set.bits, ordering: .releasing)
  }

  /// Removes every record of the customer at `row` (nil: not in the store) and clears its word;
  /// returns how many records there were. Writer only.
  @discardableResult
  func remove(customerId: UInt64, row: Int?) -> Int {
    let removed = details.withLock { $0.byCustomer.removeValue(forKey: customerId)?.count ?? 0 }
    recordCount.wrappingDecrement(by: removed, ordering: .relaxed)
    if let row {
      let base = segment(row >> Self.segmentShift).load(ordering: .acquiring)
      if base != 0 { word(row, in: base).store(0, ordering: .releasing) }
    }
    return removed
  }

  /// The segment holding `row`'s word, allocated (zeroed) if it was not yet. Writer only.
  private func allocateSegment(for row: Int) -> UInt {
    let slot = segment(row >> Self.segmentShift)
    let base = slot.load(ordering: .acquiring)
    if base != 0 { return base }
    let words = UnsafeMutablePointer<UInt64>.allocate(capacity: Self.rowsPerSegment)
    words.initialize(repeating: 0, count: Self.rowsPerSegment)
    let address = UInt(bitPattern: words)
    slot.store(address, ordering: .releasing)
    return address
  }
}

/// The records behind the words, packed into one `UInt64` each so that millions of customers'
/// consents fit: bits 0–2 the channel, 3–4 the purpose, 5–6 the state, 7–20 the source (an index
/// into the interned sources), 21–63 the time in milliseconds since 1970 (to the year 2248).
private struct Details {
  static let maxSources = 1 << 14
  var byCustomer: [UInt64: [UInt64]] = [:]
  var sources: [String] = []
  var sourceIndex: [String: Int] = [:]

  /// The channel and purpose bits, which order a customer's records.
  static func key(_ packed: UInt64) -> UInt64 { packed & 0x1F }
  static func key(_ channel: Channel, _ purpose: ConsentPurpose) -> UInt64 {
    UInt64(channel.rawValue) | UInt64(purpose.rawValue) << 3
  }

  /// Packs `record`, interning its source (the caller checked there is room for it).
  mutating func pack(_ record: ConsentRecord) -> UInt64 {
    let source: Int
    if let known = sourceIndex[record.source] {
      source = known
    } else {
      source = sources.count
      sources.append(record.source)
      sourceIndex[record.source] = source
    }
    let millis = UInt64(clamping: max(0, record.timestampMillis)) & ((1 << 43) - 1)
    return Self.key(record.channel, record.purpose) | UInt64(record.state.rawValue) << 5 | UInt64(source) << 7
      | millis << 21
  }

  func unpack(_ packed: UInt64) -> ConsentRecord {
    ConsentRecord(
      channel: Channel(rawValue: Int(packed & 7)) ?? .web,
      purpose: ConsentPurpose(rawValue: Int(packed >> 3 & 3)) ?? .marketing,
      state: ConsentState(rawValue: UInt8(packed >> 5 & 3)) ?? .unrecorded,
      timestampMillis: Int64(packed >> 21),
      source: sources[Int(packed >> 7 & 0x3FFF)])
  }
}
