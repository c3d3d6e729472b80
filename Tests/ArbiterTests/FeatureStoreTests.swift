import ArbiterCore
import ArbiterFeatureStore
import Foundation
import Testing

/// A schema with one feature of every derivation kind.
let eventSchema = FeatureSchema(
  customerFeatures: [
    FeatureDefinition(name: "age", kind: .numeric, description: ""),
    FeatureDefinition(name: "clock", kind: .numeric, description: "", derive: .init(kind: .clock)),
    FeatureDefinition(
      name: "balance", kind: .numeric, description: "", derive: .init(kind: .balance, event: "transaction")),
    FeatureDefinition(
      name: "txn_count_30d", kind: .numeric, description: "",
      derive: .init(kind: .count, event: "transaction", halfLifeDays: 30)),
    FeatureDefinition(
      name: "card_spend_30d", kind: .numeric, description: "",
      derive: .init(kind: .sum, event: "transaction", channel: "card", direction: "out", halfLifeDays: 30)),
    FeatureDefinition(
      name: "atm_count", kind: .numeric, description: "",
      derive: .init(kind: .count, event: "transaction", channel: "atm")),
    FeatureDefinition(
      name: "days_since_txn", kind: .numeric, description: "", derive: .init(kind: .recency, event: "transaction")),
    FeatureDefinition(
      name: "churn_risk", kind: .boolean, description: "",
      derive: .init(kind: .trigger, event: "transfer", direction: "out", threshold: 5_000, expiresAfterDays: 14)),
    FeatureDefinition(name: "balance_ewma", kind: .numeric, description: "", derive: .init(kind: .state)),
    FeatureDefinition(
      name: "balance_trend", kind: .numeric, description: "",
      derive: .init(kind: .trend, halfLifeDays: 30, source: "balance", state: "balance_ewma")),
    FeatureDefinition(name: "calls", kind: .numeric, description: "", derive: .init(kind: .count, event: "call")),
  ],
  contextFeatures: [])

func day(_ d: Double) -> Int64 { Int64(d * 86_400_000) }

func record(_ id: UInt64, age: Float, balance: Float = 1_000) -> CustomerRecord {
  var values = [Float](repeating: .nan, count: eventSchema.width)
  values[0] = age
  values[2] = balance
  values[3] = 0
  values[5] = 0
  values[10] = 0
  return CustomerRecord(id: id, displayName: "Customer \(id)", values: values)
}

func stored(_ store: FeatureStore, _ id: UInt64) -> [Float] {
  var out = [Float](repeating: 0, count: store.width)
  out.withUnsafeMutableBufferPointer { store.readStored(row: store.row(of: id)!, into: $0.baseAddress!) }
  return out
}

func readAt(_ store: FeatureStore, _ id: UInt64, days: Double) -> [Float] {
  var out = [Float](repeating: 0, count: store.width)
  out.withUnsafeMutableBufferPointer { store.read(row: store.row(of: id)!, into: $0, nowDays: days) }
  return out
}

@Suite struct FeatureStoreTests {
  @Test func upsertInsertsUpdatesAndRejectsWithReasons() throws {
    let store = try FeatureStore(schema: eventSchema)
    var bad = record(3, age: 1)
    bad.values[0] = .infinity
    let result = try store.upsert([
      record(1, age: 30), record(2, age: 40), bad, CustomerRecord(id: 4, displayName: "", values: [1]),
    ])
    #expect(result.inserted == 2 && result.rejected == 2)
    #expect(
      result.errors == [
        "profiles[2] (customer 3): feature 'age' is infinite",
        "profiles[3] (customer 4): 1 feature values, the schema has 11",
      ])
    #expect(try store.upsert([record(1, age: 31)]).updated == 1)
    #expect(stored(store, 1)[0] == 31)
    #expect(store.displayName(row: store.row(of: 2)!) == "Customer 2")
    #expect(store.count == 2)
    #expect(store.row(of: 3) == nil)
  }

  @Test func eventsDeriveDeclaredFeatures() throws {
    let store = try FeatureStore(schema: eventSchema)
    _ = try store.upsert([record(7, age: 50, balance: 1_000)])
    let result = store.apply([
      CustomerEvent(customerId: 7, kind: .transaction, timestampMillis: day(20_000), amount: -200, channel: .card),
      CustomerEvent(customerId: 7, kind: .transaction, timestampMillis: day(20_030), amount: -100, channel: .atm),
      CustomerEvent(customerId: 7, kind: .call, timestampMillis: day(20_030)),
      CustomerEvent(customerId: 7, kind: .transfer, timestampMillis: day(20_030), amount: -8_000, channel: .online),
      CustomerEvent(customerId: 99, kind: .call, timestampMillis: day(20_030)),
      CustomerEvent(customerId: 7, kind: .transaction, timestampMillis: day(20_030), amount: .nan, channel: .card),
    ])
    #expect(result.accepted == 4 && result.rejected == 2)
    #expect(result.errors == ["events[4]: customer 99 not found", "events[5]: amount is not finite"])
    let s = stored(store, 7)
    #expect(s[2] == 700)  // balance: 1000 - 200 - 100 (the transfer is not a transaction)
    #expect(abs(s[3] - 1.5) < 1e-5)  // first transaction decayed one half-life, plus one
    #expect(abs(s[4] - 100) < 1e-3)  // card spend 200, decayed one half-life
    #expect(s[5] == 1)  // one ATM transaction
    #expect(s[10] == 1)  // one call
    // Read 30 days later: decayed again, recency 30 days, trigger expired after 14.
    let later = readAt(store, 7, days: 20_060)
    #expect(abs(later[3] - 0.75) < 1e-4)
    #expect(abs(later[4] - 50) < 1e-2)
    #expect(abs(later[6] - 30) < 0.01)
    #expect(later[7] == 0)
    let soon = readAt(store, 7, days: 20_035)
    #expect(soon[7] == 1)  // churn risk raised by the large outgoing transfer
    #expect(soon[9] < 0)  // balance fell: negative trend
  }

  @Test func derivationErrorsNameTheFeature() {
    let bad = FeatureSchema(
      customerFeatures: [
        FeatureDefinition(name: "x", kind: .numeric, description: "", derive: .init(kind: .count, event: "teleport"))
      ],
      contextFeatures: [])
    #expect(
      throws: ArbiterError(
        .invalidArgument,
        "schema: feature 'x' (derive).event: unknown event kind 'teleport' (transaction, page_view, call, transfer)")
    ) {
      try FeatureStore(schema: bad)
    }
    let noClock = FeatureSchema(
      customerFeatures: [
        FeatureDefinition(name: "x", kind: .numeric, description: "", derive: .init(kind: .count, halfLifeDays: 3))
      ],
      contextFeatures: [])
    #expect(
      throws: ArbiterError(
        .invalidArgument, "schema: decayed features and trends need a feature with derive kind 'clock'")
    ) {
      try FeatureStore(schema: noClock)
    }
  }

  @Test func readersNeverSeeATornRow() async throws {
    let schema = FeatureSchema(
      customerFeatures: (0..<64).map { FeatureDefinition(name: "f\($0)", kind: .numeric, description: "") },
      contextFeatures: [])
    let store = try FeatureStore(schema: schema)
    _ = try store.upsert([CustomerRecord(id: 1, displayName: "", values: [Float](repeating: 0, count: 64))])
    let done = ManagedFlag()
    let reader = Task.detached {
      var out = [Float](repeating: 0, count: 64)
      var torn = 0, reads = 0
      while !done.isSet || reads < 1_000 {
        out.withUnsafeMutableBufferPointer { _ = store.readStored(row: 0, into: $0.baseAddress!) }
        if out.contains(where: { $0 != out[0] }) { torn += 1 }
        reads += 1
      }
      return (torn, reads)
    }
    for k in 1...20_000 {
      _ = try store.upsert([CustomerRecord(id: 1, displayName: "", values: [Float](repeating: Float(k), count: 64))])
    }
    done.set()
    let (torn, reads) = await reader.value
    #expect(torn == 0, "\(torn) torn reads of \(reads)")
    #expect(stored(store, 1)[63] == 20_000)
  }
}

/// A flag shared between tasks.
final class ManagedFlag: @unchecked Sendable {
  private let lock = NSLock()
  private var value = false
  var isSet: Bool { lock.withLock { value } }
  func set() { lock.withLock { value = true } }
}

@Suite struct FeatureStoreDurabilityTests {
  func directory() throws -> String { try TestSupport.temporaryDirectory() + "/store" }

  @Test func reopeningReplaysTheLog() async throws {
    let path = try directory()
    do {
      let store = try FeatureStore.open(directory: path, schema: eventSchema, policy: .interval(milliseconds: 5))
      let upserted = try store.upsert((1...100).map { record($0, age: Float($0)) })
      try await store.waitDurable(upserted.lsn)
      let events = store.apply(
        (1...100).map { CustomerEvent(customerId: $0, kind: .call, timestampMillis: day(20_000)) })
      try await store.waitDurable(events.lsn)
      store.close()
    }
    let reopened = try FeatureStore.open(directory: path, schema: eventSchema, policy: .always)
    #expect(reopened.count == 100)
    #expect(reopened.replayReport.applied == 200)
    #expect(reopened.replayReport.truncated == nil)
    #expect(stored(reopened, 42)[0] == 42 && stored(reopened, 42)[10] == 1)
    #expect(reopened.displayName(row: reopened.row(of: 42)!) == "Customer 42")
    reopened.close()
  }

  @Test func snapshotThenLogRestoresExactlyAndCompacts() async throws {
    let path = try directory()
    do {
      let store = try FeatureStore.open(directory: path, schema: eventSchema, policy: .interval(milliseconds: 5))
      _ = try store.upsert((1...70_000).map { record($0, age: Float($0 % 90)) })  // more than one segment
      _ = store.apply((1...1_000).map { CustomerEvent(customerId: $0, kind: .call, timestampMillis: day(20_000)) })
      let report = try store.writeSnapshot()
      #expect(report.rows == 70_000)
      #expect(report.removedSegments >= 1)
      // After the snapshot: more events, a new customer, a renamed one.
      let after = store.apply(
        (1...1_000).map { CustomerEvent(customerId: $0, kind: .call, timestampMillis: day(20_001)) })
      var renamed = record(5, age: 5)
      renamed.displayName = "Ana Silva"
      let upserted = try store.upsert([record(80_000, age: 33), renamed])
      try await store.waitDurable(max(after.lsn, upserted.lsn))
      store.close()
    }
    let logs = try FileManager.default.contentsOfDirectory(atPath: path).filter { $0.hasPrefix("wal-") }
    #expect(logs.count == 1, "older log segments were compacted away: \(logs)")
    let reopened = try FeatureStore.open(directory: path, schema: eventSchema, policy: .always)
    #expect(reopened.count == 70_001)
    #expect(stored(reopened, 1)[10] == 2)  // one call before the snapshot, one after: not double-counted
    #expect(stored(reopened, 2_000)[10] == 0)
    #expect(stored(reopened, 69_999)[0] == Float(69_999 % 90))
    #expect(stored(reopened, 80_000)[0] == 33)
    #expect(reopened.displayName(row: reopened.row(of: 5)!) == "Ana Silva")
    #expect(reopened.displayName(row: reopened.row(of: 6)!) == "Customer 6")
    #expect(reopened.replayReport.applied == 1_002)
    // The reopened store keeps working, and a second snapshot over a mapped one is exact too.
    _ = reopened.apply([CustomerEvent(customerId: 80_000, kind: .call, timestampMillis: day(20_002))])
    _ = try reopened.writeSnapshot()
    reopened.close()
    let third = try FeatureStore.open(directory: path, schema: eventSchema, policy: .always)
    #expect(third.replayReport.records == 0)
    #expect(stored(third, 80_000)[10] == 1)
    #expect(stored(third, 1)[10] == 2)
    third.close()
  }

  @Test func tornTailIsReportedAndCutOff() async throws {
    let path = try directory()
    do {
      let store = try FeatureStore.open(directory: path, schema: eventSchema, policy: .always)
      let result = try store.upsert((1...10).map { record($0, age: 20) })
      try await store.waitDurable(result.lsn)
      store.close()
    }
    let segment = try #require(try FileManager.default.contentsOfDirectory(atPath: path).first { $0.hasPrefix("wal-") })
    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path + "/" + segment))
    try handle.seekToEnd()
    try handle.write(contentsOf: Data([0x40, 0, 0, 0, 1, 2, 3, 4, 9, 9]))  // a record header promising 64 bytes, then 2
    try handle.close()
    let reopened = try FeatureStore.open(directory: path, schema: eventSchema, policy: .always)
    let truncated = try #require(reopened.replayReport.truncated)
    #expect(truncated.discardedBytes == 10)
    #expect(reopened.count == 10)
    let more = try reopened.upsert([record(11, age: 21)])
    try await reopened.waitDurable(more.lsn)
    reopened.close()
    let again = try FeatureStore.open(directory: path, schema: eventSchema, policy: .always)
    #expect(again.count == 11)
    #expect(again.replayReport.truncated == nil)
    again.close()
  }

  @Test func corruptOrTruncatedSnapshotIsRefused() async throws {
    let path = try directory()
    do {
      let store = try FeatureStore.open(directory: path, schema: eventSchema, policy: .always)
      _ = try store.upsert((1...1_000).map { record($0, age: 20) })
      _ = try store.writeSnapshot()
      store.close()
    }
    let file = path + "/snapshot.arb"
    func openingError() -> ArbiterError? {
      do {
        let store = try FeatureStore.open(directory: path, schema: eventSchema, policy: .always)
        store.close()
        return nil
      } catch {
        return error
      }
    }
    var data = try Data(contentsOf: URL(fileURLWithPath: file))
    let original = data
    data[data.count / 2] ^= 0xFF  // inside the values section, the largest
    try data.write(to: URL(fileURLWithPath: file))
    #expect(
      openingError() == ArbiterError(.dataCorrupted, "\(file): rows section checksum mismatch; refusing the snapshot"))
    try original.prefix(original.count / 2).write(to: URL(fileURLWithPath: file))
    let truncated = openingError()
    #expect(truncated?.code == .dataCorrupted)
    #expect(truncated?.message.contains("truncated") == true, "\(String(describing: truncated))")
    try Data("not a snapshot at all, longer than nothing".utf8).write(to: URL(fileURLWithPath: file))
    #expect(openingError()?.code == .dataCorrupted)
    try original.write(to: URL(fileURLWithPath: file))
    #expect(openingError() == nil)
  }
}

@Suite struct ConcurrentSnapshotTests {
  /// Events applied while the snapshot is being written are either in it or replayed after it,
  /// never both and never neither; reads go on throughout.
  @Test func updatesDuringASnapshotCountExactlyOnce() async throws {
    let path = try TestSupport.temporaryDirectory() + "/store"
    let store = try FeatureStore.open(directory: path, schema: eventSchema, policy: .interval(milliseconds: 5))
    let n: UInt64 = 200_000
    var start: UInt64 = 1
    while start <= n {
      _ = try store.upsert((start..<min(n + 1, start + 50_000)).map { record($0, age: 30) })
      start += 50_000
    }
    let snapshot = Task.detached { try store.writeSnapshot() }
    var applied = 0
    var reads = 0
    var rng = SeededGenerator(seed: 9)
    var out = [Float](repeating: 0, count: eventSchema.width)
    var lastLSN: UInt64 = 0
    while applied < 20_000 {
      let ids = (0..<100).map { _ in UInt64(1 + rng.below(Int(n))) }
      let result = store.apply(ids.map { CustomerEvent(customerId: $0, kind: .call, timestampMillis: day(20_000)) })
      applied += result.accepted
      lastLSN = result.lsn
      for id in ids.prefix(10) {
        out.withUnsafeMutableBufferPointer { _ = store.readStored(row: store.row(of: id)!, into: $0.baseAddress!) }
        reads += 1
      }
    }
    let report = try await snapshot.value
    #expect(report.rows == Int(n))
    try await store.waitDurable(lastLSN)
    store.close()
    let reopened = try FeatureStore.open(directory: path, schema: eventSchema, policy: .always)
    var calls: Float = 0
    for id in 1...n { calls += stored(reopened, id)[10] }
    #expect(
      calls == Float(applied),
      """
      snapshot + replay hold each of the \(applied) events once (replayed \(reopened.replayReport.applied), \
      skipped \(reopened.replayReport.skipped))
      """
    )
    #expect(reads == applied / 10)
    reopened.close()
  }
}
