import ArbiterCore

/// Payload layouts of log records (little-endian).
///
/// - upsert: `[u8 1][u64 first lsn][u32 n]` then n × `[u64 id][u8 name length][name][width × f32]`
/// - events: `[u8 2][u64 first lsn][u32 n]` then n × `[u64 id][u8 kind][u8 channel][i64 ms][f64 amount]`
/// - consents: `[u8 3][u64 first lsn][u32 n]` then n × `[u64 id]` and a consent entry:
///   `[u8 channel][u8 purpose][u8 state][i64 ms][u16 source length][source]` (snapshots keep
///   consents as the same entries)
/// - erasures: `[u8 4][u64 first lsn][u32 n]` then n × `[u64 id]`
///
/// The i-th entry of a record has position `first lsn + i`.
enum LogRecords {
  static let upsert: UInt8 = 1
  static let events: UInt8 = 2
  static let consents: UInt8 = 3
  static let erasures: UInt8 = 4
  static let eventSize = 8 + 1 + 1 + 8 + 8

  struct Writer {
    var bytes: [UInt8] = []
    mutating func put<T: FixedWidthInteger>(_ value: T) {
      withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }
    mutating func put(_ value: Float) { put(value.bitPattern) }
    mutating func put(_ value: Double) { put(value.bitPattern) }
    /// A consent entry (without the customer).
    mutating func put(_ record: ConsentRecord) {
      put(UInt8(record.channel.rawValue))
      put(UInt8(record.purpose.rawValue))
      put(record.state.rawValue)
      put(record.timestampMillis)
      let source = Array(record.source.utf8.prefix(Int(UInt16.max)))
      put(UInt16(source.count))
      bytes.append(contentsOf: source)
    }
  }

  struct Reader {
    let buffer: UnsafeRawBufferPointer
    var offset = 0
    init(_ buffer: UnsafeRawBufferPointer) { self.buffer = buffer }
    var remaining: Int { buffer.count - offset }
    mutating func get<T: FixedWidthInteger>(_: T.Type) throws(ArbiterStoreError) -> T {
      guard remaining >= MemoryLayout<T>.size else { throw ArbiterStoreError("record ends early") }
      defer { offset += MemoryLayout<T>.size }
      return T(littleEndian: buffer.loadUnaligned(fromByteOffset: offset, as: T.self))
    }
    mutating func getFloat() throws(ArbiterStoreError) -> Float { Float(bitPattern: try get(UInt32.self)) }
    mutating func getDouble() throws(ArbiterStoreError) -> Double { Double(bitPattern: try get(UInt64.self)) }
    mutating func getString(_ length: Int) throws(ArbiterStoreError) -> String {
      guard remaining >= length else { throw ArbiterStoreError("record ends early") }
      defer { offset += length }
      return String(decoding: UnsafeRawBufferPointer(rebasing: buffer[offset..<(offset + length)]), as: UTF8.self)
    }
    /// A consent entry (without the customer).
    mutating func getConsent() throws(ArbiterStoreError) -> ConsentRecord {
      guard let channel = Channel(rawValue: Int(try get(UInt8.self))),
        let purpose = ConsentPurpose(rawValue: Int(try get(UInt8.self))),
        let state = ConsentState(rawValue: try get(UInt8.self))
      else { throw ArbiterStoreError("consent with an unknown channel, purpose or state") }
      let millis = try get(Int64.self)
      let source = try getString(Int(try get(UInt16.self)))
      return ConsentRecord(channel: channel, purpose: purpose, state: state, timestampMillis: millis, source: source)
    }
  }
}

/// What replaying the log found.
public struct ReplayReport: Sendable, CustomStringConvertible {
  /// How many log segment files were read.
  public var segments = 0
  /// How many log records (batches of upserts or events) were read.
  public var records = 0
  /// How many changes (upserts and events) were applied on top of the snapshot.
  public var applied = 0
  /// How many changes were skipped because the snapshot already held them.
  public var skipped = 0
  /// Set when the newest segment ended in a torn or corrupt record, which was cut off.
  public var truncated: (path: String, offset: Int, discardedBytes: Int)?

  /// A one-line account of the replay, e.g. "2 log segment(s), 10 record(s), …".
  public var description: String {
    var text =
      "\(segments) log segment(s), \(records) record(s), \(applied) change(s) applied, "
      + "\(skipped) already in the snapshot"
    if let truncated {
      text +=
        "; torn tail in \(truncated.path) at byte \(truncated.offset): \(truncated.discardedBytes) byte(s) cut off"
    }
    return text
  }
}
