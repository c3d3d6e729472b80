import ArbiterCore
import Atomics
import Foundation
import Synchronization

/// Outcome of an upsert batch.
public struct UpsertResult: Sendable {
  /// How many records were new customers.
  public var inserted = 0
  /// How many records replaced an existing customer's vector.
  public var updated = 0
  /// How many records were refused (id 0, wrong width, an infinite value, a name too long, or a value out of range);
  /// see ``errors``.
  public var rejected = 0
  /// The first rejections, each naming the record's position and the problem.
  public var errors: [String] = []
  /// The first ``maxProblems`` rejections as the batch position, the customer and the problem
  /// (for callers that name records their own way, e.g. by file line).
  public var problems: [(position: Int, customerId: UInt64, problem: String)] = []
  /// Log position to wait for before acknowledging.
  public var lsn: UInt64 = 0

  /// How many rejections ``problems`` keeps.
  public static let maxProblems = 100
}

/// Outcome of an event batch.
public struct EventResult: Sendable {
  /// How many events were applied.
  public var accepted = 0
  /// How many events were refused (unknown customer, non-finite amount, implausible time); see ``errors``.
  public var rejected = 0
  /// The first ten rejections, each naming the event's position, the customer and the problem.
  public var errors: [String] = []
  /// Log position to wait for before acknowledging; 0 when no event was accepted.
  public var lsn: UInt64 = 0
}

/// The customer feature store: schema-driven feature vectors for millions of customers, in memory.
///
/// - Reads (decisions) take no lock and allocate nothing: a lock-free hash index finds the row,
///   a per-row sequence lock yields one whole version of it.
/// - Updates (upserts, events) go through one writer path, are logged before they are
///   acknowledged, and become visible atomically per customer.
/// - Durability: a snapshot file mapped at start, plus the log replayed on top (see
///   ``open(directory:schema:policy:)`` and ``writeSnapshot()``).
public final class FeatureStore: @unchecked Sendable {
  /// The schema the store's vectors are laid out by.
  public let schema: FeatureSchema
  /// The number of features in each vector (the schema's width).
  public let width: Int
  /// The schema's event derivations, compiled: how events update derived features.
  public let derivations: CompiledDerivations
  /// How far ahead of the server clock an event may be dated (and a customer's clock set):
  /// later ones are refused, so that one bad time cannot make every real event count for nothing.
  public let maxEventSkew: Duration
  /// The server clock event times are checked against, in days since the epoch.
  let serverClock: @Sendable () -> Double
  /// The features with a declared range.
  let rangedFeatures: [Int]
  let segments: RowSegments
  let names = NameArena()
  /// The live index, as an unretained pointer: readers load it without touching reference
  /// counts. Superseded indexes stay in `retiredIndexes` until the store is gone, so a reader
  /// holding an old one is always safe.
  private let index: UnsafeAtomic<UnsafeRawPointer>
  private let indexes = Mutex<[HashIndex]>([])
  private let rowCount = ManagedAtomic<Int>(0)
  let writer = Mutex<WriterState>(WriterState())
  /// Every customer's consents, beside the rows.
  let consentLedger = ConsentLedger()
  /// Rows whose customer was erased (wiped, out of the index): ``count`` less these are customers.
  let erasedRows = ManagedAtomic<Int>(0)
  /// Set once an erasure has left its id in the live index as a tombstone: snapshots then write
  /// an index rebuilt without such ids, so that none of them is kept on disk.
  let indexHoldsErasedIds = ManagedAtomic<Bool>(false)
  var log: WriteAheadLog?
  let directory: String?
  /// Whether the store keeps its snapshot and log in a directory (false: in memory only).
  public var hasDirectory: Bool { directory != nil }
  /// Held while a snapshot is written: the periodic one and an erasure's never overlap.
  let snapshotGate = NSLock()
  /// Held while the store is open on a directory.
  var directoryLock: DirectoryLock?
  /// Keeps mapped snapshots alive.
  var mappings: [AnyObject] = []
  /// The log position the newest snapshot covers.
  public internal(set) var snapshotLSN: UInt64 = 0
  /// When the newest snapshot was written, in milliseconds since 1970 (0: none yet); for the
  /// snapshot's age in the metrics.
  let snapshotMillis = ManagedAtomic<Int64>(0)
  /// When the newest snapshot was written; nil when there is none.
  public var snapshotWrittenAt: Date? {
    let millis = snapshotMillis.load(ordering: .relaxed)
    return millis == 0 ? nil : Date(timeIntervalSince1970: Double(millis) / 1_000)
  }
  /// Whether the log holds changes no snapshot has.
  public var hasChangesSinceSnapshot: Bool { lastLSN > snapshotLSN }
  /// The last replay's findings.
  public internal(set) var replayReport = ReplayReport()

  struct WriterState {
    var nextLSN: UInt64 = 1
    var scratch: [UInt8] = []
  }

  /// How far ahead of the server clock events may be unless configured otherwise.
  public static let defaultMaxEventSkew: Duration = .seconds(300)

  /// An empty in-memory store (no log); events more than `maxEventSkew` ahead of `serverClock`
  /// (days since the epoch) are refused.
  public convenience init(
    schema: FeatureSchema, expectedCustomers: Int = 0, maxEventSkew: Duration = FeatureStore.defaultMaxEventSkew,
    serverClock: @escaping @Sendable () -> Double = { FeatureStore.nowDays }
  ) throws(ArbiterError) {
    try self.init(
      schema: schema, directory: nil, index: HashIndex(capacity: HashIndex.capacity(for: expectedCustomers)),
      maxEventSkew: maxEventSkew, serverClock: serverClock)
  }

  init(
    schema: FeatureSchema, directory: String?, index: HashIndex, maxEventSkew: Duration,
    serverClock: @escaping @Sendable () -> Double = { FeatureStore.nowDays }
  ) throws(ArbiterError) {
    try schema.validate()
    guard maxEventSkew >= .zero else {
      throw ArbiterError(.invalidArgument, "the maximum event skew must not be negative")
    }
    self.schema = schema
    self.width = schema.width
    self.derivations = try CompiledDerivations(schema: schema)
    self.maxEventSkew = maxEventSkew
    self.serverClock = serverClock
    self.rangedFeatures = schema.customerFeatures.indices.filter {
      schema.customerFeatures[$0].minimum != nil || schema.customerFeatures[$0].maximum != nil
    }
    self.segments = RowSegments(width: schema.width)
    self.index = UnsafeAtomic.create(UnsafeRawPointer(Unmanaged.passUnretained(index).toOpaque()))
    self.indexes.withLock { $0.append(index) }
    self.directory = directory
  }

  deinit {
    log?.shutdown()
    index.destroy()
  }

  @inline(__always) private var liveIndex: HashIndex {
    Unmanaged<HashIndex>.fromOpaque(index.load(ordering: .acquiring)).takeUnretainedValue()
  }

  /// Number of rows: every customer stored, and the rows of erased customers (wiped).
  public var count: Int { rowCount.load(ordering: .acquiring) }

  /// Number of customers in the store (rows less those erased).
  public var customerCount: Int { count - erasedRows.load(ordering: .relaxed) }

  /// Rows wiped by erasures: they stay in the store, empty, with no id pointing at them.
  public var erasedCount: Int { erasedRows.load(ordering: .relaxed) }

  /// The row of a customer, or nil. Lock-free.
  @inline(__always)
  public func row(of id: UInt64) -> Int? {
    guard id != 0, let row = liveIndex.find(id), row < count else { return nil }
    return row
  }

  /// Copies one consistent stored version of `row` into `out` (width values); returns its log position.
  @inline(__always) @discardableResult
  public func readStored(row: Int, into out: UnsafeMutablePointer<Float>) -> UInt64 {
    segments.read(row, into: out)
  }

  /// The vector a decision sees at `nowDays` (days since the epoch): stored values with decay,
  /// recency and triggers applied. Lock-free and allocation-free.
  @inline(__always)
  public func read(row: Int, into out: UnsafeMutableBufferPointer<Float>, nowDays: Double) {
    segments.read(row, into: out.baseAddress!)
    derivations.read(out, nowDays: nowDays)
  }

  /// One stored feature value of a row (a consistent read of the whole row underneath).
  public func storedValue(row: Int, feature: Int) -> Float {
    withUnsafeTemporaryAllocation(of: Float.self, capacity: width) { buffer in
      segments.read(row, into: buffer.baseAddress!)
      return buffer[feature]
    }
  }

  /// A consistent copy of a customer as a record (stored values).
  public func record(row: Int, id: UInt64) -> CustomerRecord {
    var values = [Float](repeating: 0, count: width)
    values.withUnsafeMutableBufferPointer { _ = segments.read(row, into: $0.baseAddress!) }
    return CustomerRecord(id: id, displayName: displayName(row: row), values: values)
  }

  /// Every customer id, in ascending order.
  public func customerIds() -> [UInt64] {
    var ids: [UInt64] = []
    ids.reserveCapacity(count)
    currentIndex().forEach(rowsBelow: count) { id, _ in ids.append(id) }
    return ids.sorted()
  }

  /// The customer's display name.
  public func displayName(row: Int) -> String {
    names.name(segments.nameRef(row).load(ordering: .acquiring))
  }

  /// The current time in days since the epoch.
  public static var nowDays: Double { Date().timeIntervalSince1970 / 86_400 }

  // MARK: Event times

  /// The latest event time accepted now, in milliseconds since the epoch: the server clock
  /// plus ``maxEventSkew``.
  public func latestEventMillis() -> Double {
    let (seconds, attoseconds) = maxEventSkew.components
    return serverClock() * 86_400_000 + Double(seconds) * 1_000 + Double(attoseconds) / 1e15
  }

  /// Why an event dated `millis` (since the epoch) is refused, e.g. "is more than 5m ahead of
  /// the server clock", given ``latestEventMillis()``; nil when it is accepted.
  public func eventTimeProblem(millis: Int64, latest: Double) -> String? {
    if millis < 0 { return "is before 1970" }
    if Double(millis) > latest { return "is more than \(DurationText.format(maxEventSkew)) ahead of the server clock" }
    return nil
  }

  // MARK: Writing

  /// Inserts or replaces customers (whole vectors; NaN is missing). Invalid records are
  /// rejected and reported; the rest are applied and logged.
  ///
  /// With `asOfDays`, the values are as they read at that moment (days since, flags, trends:
  /// what ``read(row:into:nowDays:)`` gives, GetProfile returns and CSV exports hold): they are
  /// checked against the schema's ranges and turned into the stored form
  /// (``CompiledDerivations/materialize(_:nowDays:existing:)``). Without it they are stored
  /// as they are (the log's replay, populations materialized by the caller).
  ///
  /// With `logged` false the batch skips the log (bulk imports that end with a snapshot).
  public func upsert(
    _ records: [CustomerRecord], asOfDays: Double? = nil, logged: Bool = true
  ) throws(ArbiterError) -> UpsertResult {
    let latest = latestEventMillis()
    return try writer.withLock { state throws(ArbiterError) -> UpsertResult in
      var result = UpsertResult()
      var log = beginRecord(LogRecords.upsert, &state)
      let first = state.nextLSN
      var accepted: UInt32 = 0
      for (position, read) in records.enumerated() {
        var record = read
        var found = problem(with: record)
        if found == nil, let asOfDays { found = storedForm(of: &record, asOfDays: asOfDays, latestEventMillis: latest) }
        if let problem = found {
          result.rejected += 1
          if result.errors.count < 10 {
            result.errors.append("profiles[\(position)] (customer \(record.id)): \(problem)")
          }
          if result.problems.count < UpsertResult.maxProblems { result.problems.append((position, record.id, problem)) }
          continue
        }
        let lsn = first + UInt64(accepted)
        do {
          if try applyUpsert(record, lsn: lsn) { result.inserted += 1 } else { result.updated += 1 }
        } catch let error as ArbiterStoreError {
          throw ArbiterError(.resourceExhausted, error.description)
        } catch {
          throw ArbiterError(.internalError, "\(error)")
        }
        accepted += 1
        guard logged else { continue }
        log.put(record.id)
        let name = Array(record.displayName.utf8)
        log.put(UInt8(name.count))
        log.bytes.append(contentsOf: name)
        for value in record.values { log.put(value) }
      }
      guard accepted > 0 else { return result }
      result.lsn = finishRecord(&log, entries: accepted, logged: logged, &state)
      return result
    }
  }

  /// Starts a log record of `type` at the next position, reusing the writer's scratch buffer.
  func beginRecord(_ type: UInt8, _ state: inout WriterState) -> LogRecords.Writer {
    var log = LogRecords.Writer()
    log.bytes = state.scratch
    log.bytes.removeAll(keepingCapacity: true)
    log.put(type)
    log.put(state.nextLSN)
    log.put(UInt32(0))  // entry count, patched by finishRecord
    return log
  }

  /// Completes a record of `entries` entries, hands out their positions and queues it for the log
  /// (unless `logged` is false); returns the last position to wait for (0 when not logged).
  func finishRecord(
    _ log: inout LogRecords.Writer, entries: UInt32, logged: Bool, _ state: inout WriterState
  ) -> UInt64 {
    withUnsafeBytes(of: entries.littleEndian) { count in
      log.bytes.withUnsafeMutableBytes { $0[9..<13].copyBytes(from: count) }
    }
    state.nextLSN += UInt64(entries)
    let last = state.nextLSN - 1
    if logged { log.bytes.withUnsafeBytes { buffer in self.log?.append(buffer, lastLSN: last) } }
    state.scratch = log.bytes
    return logged ? last : 0
  }

  private func problem(with record: CustomerRecord) -> String? {
    if record.id == 0 { return "customer id 0 is reserved" }
    if record.values.count != width { return "\(record.values.count) feature values, the schema has \(width)" }
    if record.displayName.utf8.count > NameArena.maxLength {
      return "display_name longer than \(NameArena.maxLength) bytes"
    }
    for (i, value) in record.values.enumerated() where value.isInfinite {
      return "feature '\(schema.customerFeatures[i].name)' is infinite"
    }
    return nil
  }

  /// Turns a record as read at `asOfDays` into its stored form, or says why it is refused: a
  /// value outside its range, or a clock ahead of the server's. Writer only.
  private func storedForm(of record: inout CustomerRecord, asOfDays: Double, latestEventMillis: Double) -> String? {
    for i in rangedFeatures {
      if let problem = schema.customerFeatures[i].rangeProblem(record.values[i]) { return problem }
    }
    let given = record.values
    withUnsafeTemporaryAllocation(of: Float.self, capacity: width) { existing in
      let row = row(of: record.id)
      if let row { segments.read(row, into: existing.baseAddress!) }
      record.values.withUnsafeMutableBufferPointer { values in
        let stored = row == nil ? nil : UnsafePointer(existing.baseAddress!)
        derivations.materialize(values, nowDays: asOfDays, existing: stored)
      }
    }
    for (i, value) in record.values.enumerated() where value.isInfinite {
      return "\(schema.customerFeatures[i].name) = \(given[i]) does not fit once re-based to the customer's clock"
    }
    if let clock = derivations.clock, Double(record.values[clock]) * 86_400_000 > latestEventMillis {
      return "\(schema.customerFeatures[clock].name) = \(given[clock]) days since the newest event puts that event "
        + "more than \(DurationText.format(maxEventSkew)) ahead of the server clock"
    }
    return nil
  }

  /// Applies one upsert at `lsn`; true when it inserted. Writer only.
  @discardableResult
  func applyUpsert(_ record: CustomerRecord, lsn: UInt64) throws(ArbiterStoreError) -> Bool {
    let name = try names.append(record.displayName)
    if let row = row(of: record.id) {
      segments.write(row, lsn: lsn) { values in
        record.values.withUnsafeBufferPointer { values.update(from: $0.baseAddress!, count: width) }
      }
      segments.nameRef(row).store(name, ordering: .releasing)
      return false
    }
    let row = count
    try segments.ensureCapacity(forRow: row)
    segments.write(row, lsn: lsn) { values in
      record.values.withUnsafeBufferPointer { values.update(from: $0.baseAddress!, count: width) }
    }
    segments.nameRef(row).store(name, ordering: .releasing)
    var table = liveIndex
    if Double(row + 1) > Double(table.capacity) * 0.75 {
      let grown = HashIndex(capacity: table.capacity * 2)
      table.forEach(rowsBelow: row) { id, existing in grown.insert(id, row: existing) }
      publish(grown)
      table = grown
    }
    table.insertOrRevive(record.id, row: row)
    rowCount.store(row + 1, ordering: .releasing)
    return true
  }

  /// Applies events to their customers' derived features. Events for unknown customers or with
  /// bad values are rejected and reported; the rest are applied and logged.
  ///
  /// An event dated before 1970 or more than ``maxEventSkew`` ahead of the server clock is
  /// refused: its time would become the customer's clock and every later real event would
  /// count as late, for nothing.
  public func apply(_ events: [CustomerEvent]) -> EventResult {
    let latest = latestEventMillis()
    return writer.withLock { state -> EventResult in
      var result = EventResult()
      var log = beginRecord(LogRecords.events, &state)
      let first = state.nextLSN
      var accepted: UInt32 = 0
      for (position, event) in events.enumerated() {
        guard let row = row(of: event.customerId) else {
          result.rejected += 1
          if result.errors.count < 10 {
            result.errors.append("events[\(position)]: customer \(event.customerId) not found")
          }
          continue
        }
        guard event.amount.isFinite else {
          result.rejected += 1
          if result.errors.count < 10 { result.errors.append("events[\(position)]: amount is not finite") }
          continue
        }
        if let problem = eventTimeProblem(millis: event.timestampMillis, latest: latest) {
          result.rejected += 1
          if result.errors.count < 10 {
            let what = "events[\(position)] (customer \(event.customerId)): event time \(event.timestampMillis) ms"
            result.errors.append("\(what) \(problem)")
          }
          continue
        }
        let lsn = first + UInt64(accepted)
        segments.write(row, lsn: lsn) { values in derivations.apply(event, to: values) }
        log.put(event.customerId)
        log.put(event.kind.code)
        log.put(event.channel.code)
        log.put(event.timestampMillis)
        log.put(event.amount)
        accepted += 1
      }
      result.accepted = Int(accepted)
      guard accepted > 0 else { return result }
      result.lsn = finishRecord(&log, entries: accepted, logged: true, &state)
      return result
    }
  }

  /// Waits until the log holds everything up to `lsn` durably (per the fsync policy).
  public func waitDurable(_ lsn: UInt64) async throws {
    guard lsn > 0, let log else { return }
    try await log.waitDurable(lsn)
  }

  /// Replays one log payload: entries at or below a row's own position are already in it.
  func replay(_ payload: UnsafeRawBufferPointer, report: inout ReplayReport) throws(ArbiterStoreError) {
    var reader = LogRecords.Reader(payload)
    let type = try reader.get(UInt8.self)
    let first = try reader.get(UInt64.self)
    let n = Int(try reader.get(UInt32.self))
    var scratch = [Float](repeating: 0, count: width)
    for i in 0..<n {
      let lsn = first + UInt64(i)
      let id = try reader.get(UInt64.self)
      switch type {
      case LogRecords.upsert:
        let name = try reader.getString(Int(try reader.get(UInt8.self)))
        for f in 0..<width { scratch[f] = try reader.getFloat() }
        if let row = row(of: id), segments.lsn(row) >= lsn { report.skipped += 1; continue }
        try applyUpsert(CustomerRecord(id: id, displayName: name, values: scratch), lsn: lsn)
      case LogRecords.events:
        guard let kind = CustomerEvent.Kind(code: try reader.get(UInt8.self)),
          let channel = CustomerEvent.TransactionChannel(code: try reader.get(UInt8.self))
        else { throw ArbiterStoreError("event with an unknown kind or channel") }
        let event = CustomerEvent(
          customerId: id, kind: kind, timestampMillis: try reader.get(Int64.self), amount: try reader.getDouble(),
          channel: channel)
        // A customer erased after the event is in no snapshot index: nothing of theirs to update.
        guard let row = row(of: id) else { report.skipped += 1; continue }
        if segments.lsn(row) >= lsn { report.skipped += 1; continue }
        segments.write(row, lsn: lsn) { values in derivations.apply(event, to: values) }
      case LogRecords.consents:
        let record = try reader.getConsent()
        // Setting a consent is idempotent, so it is applied again over what a snapshot holds;
        // a customer erased since is skipped.
        guard let row = row(of: id) else { report.skipped += 1; continue }
        consentLedger.apply(record, customerId: id, row: row)
      case LogRecords.erasures:
        applyErasure(of: id, lsn: lsn)
      default:
        throw ArbiterStoreError("unknown record type \(type)")
      }
      report.applied += 1
    }
    writer.withLock { state in state.nextLSN = max(state.nextLSN, first + UInt64(n)) }
  }

  /// The newest log position handed out.
  public var lastLSN: UInt64 { writer.withLock { $0.nextLSN - 1 } }

  func withWriterLock<T, E: Error>(_ body: (inout UInt64) throws(E) -> T) throws(E) -> T {
    try writer.withLock { (state: inout WriterState) throws(E) -> T in try body(&state.nextLSN) }
  }

  func currentIndex() -> HashIndex { liveIndex }

  private func publish(_ table: HashIndex) {
    indexes.withLock { $0.append(table) }
    index.store(UnsafeRawPointer(Unmanaged.passUnretained(table).toOpaque()), ordering: .releasing)
  }

  func install(index table: HashIndex, rows: Int) {
    publish(table)
    rowCount.store(rows, ordering: .releasing)
  }

  /// Stops the log flusher after syncing what it holds.
  public func close() {
    log?.shutdown()
    log = nil
    directoryLock = nil
  }
}
