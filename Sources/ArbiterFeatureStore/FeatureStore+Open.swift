import ArbiterCore
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// Opening a store from its directory: the snapshot mapped in place, then the log replayed on top.
extension FeatureStore {
  /// Opens the store in `directory`: maps the snapshot if there is one (verifying every
  /// section's checksum), replays the log on top, truncating a torn tail, and appends to the log
  /// from there. A corrupt snapshot or a log record from the middle of history that fails its
  /// checksum is refused with an error naming the file. Events more than `maxEventSkew` ahead
  /// of the server clock are refused (``apply(_:)``).
  public static func open(
    directory: String, schema: FeatureSchema, policy: FsyncPolicy,
    maxEventSkew: Duration = FeatureStore.defaultMaxEventSkew
  ) throws(ArbiterError) -> FeatureStore {
    try createDirectory(directory)
    let lock = try DirectoryLock(directory: directory)
    let schemaHash = Checksum.sha256(try schemaBytes(schema))
    let snapshotPath = directory + "/" + SnapshotFormat.fileName
    let store: FeatureStore
    if FileManager.default.fileExists(atPath: snapshotPath) {
      store = try mapSnapshot(
        path: snapshotPath, directory: directory, schema: schema, schemaHash: schemaHash, maxEventSkew: maxEventSkew)
    } else {
      store = try FeatureStore(
        schema: schema, directory: directory, index: HashIndex(capacity: HashIndex.capacity(for: 0)),
        maxEventSkew: maxEventSkew)
    }
    let segments = WriteAheadLog.segments(in: directory)
    store.replayReport = try store.replayLog(segments: segments)
    store.directoryLock = lock
    try store.openLog(directory: directory, policy: policy, segments: segments)
    return store
  }

  /// The bytes a snapshot's schema hash is taken over: the schema's layout (a relabelled or
  /// re-ranged schema reads the same snapshot).
  static func schemaBytes(_ schema: FeatureSchema) throws(ArbiterError) -> Data {
    do {
      return try CanonicalJSON.encode(schema.layout)
    } catch {
      throw ArbiterError(.internalError, "cannot encode the schema: \(error)")
    }
  }

  /// Creates the store directory (and its parents) if it does not exist.
  private static func createDirectory(_ directory: String) throws(ArbiterError) {
    do {
      try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    } catch {
      throw ArbiterError(.failedPrecondition, "cannot create store directory '\(directory)': \(error)")
    }
  }

  // MARK: the snapshot

  /// A store whose index, rows and names are the snapshot at `path`, mapped and used in place;
  /// appending resumes after the log position the snapshot started at.
  private static func mapSnapshot(
    path: String, directory: String, schema: FeatureSchema, schemaHash: [UInt8], maxEventSkew: Duration
  ) throws(ArbiterError) -> FeatureStore {
    let file = try MappedFile(path: path)
    let header = try checkedSnapshotHeader(file: file, path: path, schema: schema, schemaHash: schemaHash)
    let s = header.sections
    let table = HashIndex(slots: file.pointer + s[0].offset, capacity: header.capacity, owner: file)
    let store = try FeatureStore(schema: schema, directory: directory, index: table, maxEventSkew: maxEventSkew)
    store.mappings.append(file)
    if header.paddedRows > 0 {
      store.segments.addMapped(
        rows: file.pointer + s[1].offset, names: file.pointer + s[2].offset, rows: header.paddedRows, owner: file)
    }
    store.names.setBase(UnsafeRawPointer(file.pointer + s[3].offset), length: s[3].length, owner: file)
    store.install(index: table, rows: header.rows)
    store.erasedRows.store(header.rows - table.count(rowsBelow: header.rows), ordering: .relaxed)
    if s.count > 4 {
      try store.loadConsents(UnsafeRawBufferPointer(start: file.pointer + s[4].offset, count: s[4].length), path: path)
    }
    let startLSN = header.startLSN
    store.snapshotLSN = startLSN
    if let modified = try? FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date {
      store.snapshotMillis.store(Int64(modified.timeIntervalSince1970 * 1_000), ordering: .relaxed)
    }
    store.withWriterLock { next in next = startLSN + 1 }
    return store
  }

  /// Sets the consents of a snapshot's consents section (those of customers it does not hold are
  /// skipped: they came after its cut, and the log sets them again).
  private func loadConsents(_ bytes: UnsafeRawBufferPointer, path: String) throws(ArbiterError) {
    var reader = LogRecords.Reader(bytes)
    do {
      while reader.remaining > 0 {
        let id = try reader.get(UInt64.self)
        let record = try reader.getConsent()
        if let row = row(of: id) { consentLedger.apply(record, customerId: id, row: row) }
      }
    } catch {
      throw ArbiterError(.dataCorrupted, "\(path): consents section unreadable (\(error.description)); refusing it")
    }
  }

  /// The snapshot's header, refused unless it was written for this schema's layout, agrees with
  /// itself, and every section matches its checksum and the size the header implies.
  private static func checkedSnapshotHeader(
    file: MappedFile, path snapshotPath: String, schema: FeatureSchema, schemaHash: [UInt8]
  ) throws(ArbiterError) -> SnapshotFormat.Header {
    let header = try SnapshotFormat.decode(file.pointer, length: file.length, path: snapshotPath)
    guard header.schemaHash == schemaHash else {
      throw ArbiterError(
        .failedPrecondition,
        "\(snapshotPath) was written for a different feature schema; import the data again for this one")
    }
    guard header.width == schema.width, header.paddedRows % RowSegments.rowsPerSegment == 0,
      header.rows <= header.paddedRows, header.capacity > 0, header.capacity & (header.capacity - 1) == 0
    else { throw ArbiterError(.dataCorrupted, "\(snapshotPath): inconsistent header; refusing the snapshot") }
    try verifySections(header, file: file, path: snapshotPath)
    let s = header.sections
    guard s[0].length == header.capacity * HashIndex.slotSize,
      s[1].length == header.paddedRows * RowSegments.stride(width: header.width), s[2].length == header.paddedRows * 4
    else {
      throw ArbiterError(
        .dataCorrupted, "\(snapshotPath): section sizes do not match the header; refusing the snapshot")
    }
    return header
  }

  /// Refuses the snapshot unless every section matches its checksum in the header, naming the one
  /// that does not.
  private static func verifySections(
    _ header: SnapshotFormat.Header, file: MappedFile, path: String
  ) throws(ArbiterError) {
    let names = SnapshotFormat.sectionNames
    for (i, section) in header.sections.enumerated() {
      let actual = FastHash.hash(file.pointer + section.offset, count: section.length)
      guard actual == section.checksum else {
        throw ArbiterError(.dataCorrupted, "\(path): \(names[i]) section checksum mismatch; refusing the snapshot")
      }
    }
  }

  // MARK: the log

  /// Replays every log segment in order on top of what is loaded; a torn or corrupt record is
  /// cut off when it is in the newest segment and refused anywhere else.
  private func replayLog(segments: [(lsn: UInt64, path: String)]) throws(ArbiterError) -> ReplayReport {
    var report = ReplayReport()
    for (position, segment) in segments.enumerated() {
      report.segments += 1
      let isLast = position == segments.count - 1
      guard let data = FileManager.default.contents(atPath: segment.path) else {
        throw ArbiterError(.failedPrecondition, "cannot read log segment '\(segment.path)'")
      }
      let (offset, problem) = data.withUnsafeBytes { bytes in replayRecords(bytes, report: &report) }
      if let problem {
        guard isLast else {
          throw ArbiterError(
            .dataCorrupted,
            "\(segment.path): \(problem) at byte \(offset), and newer segments follow; refusing to skip history")
        }
        report.truncated = (segment.path, offset, data.count - offset)
        guard truncate(segment.path, off_t(offset)) == 0 else {
          throw ArbiterError(
            .failedPrecondition,
            "cannot truncate torn log tail of '\(segment.path)': \(String(cString: strerror(errno)))")
        }
      }
    }
    return report
  }

  /// Applies a segment's records in order, each checked against its length and checksum; stops at
  /// the first that is torn, corrupt or unreadable and returns its offset and what is wrong with it
  /// (nil problem: the whole segment was applied).
  private func replayRecords(
    _ bytes: UnsafeRawBufferPointer, report: inout ReplayReport
  ) -> (offset: Int, problem: String?) {
    var offset = 0
    while offset < bytes.count {
      guard bytes.count - offset >= 8 else { return (offset, "incomplete record header") }
      let length = Int(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self)))
      let checksum = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self))
      guard length >= 13, bytes.count - offset - 8 >= length else {
        return (offset, "record of \(length) bytes runs past the end")
      }
      let payload = UnsafeRawBufferPointer(rebasing: bytes[(offset + 8)..<(offset + 8 + length)])
      guard UInt32(truncatingIfNeeded: FastHash.hash(payload.baseAddress!, count: length)) == checksum else {
        return (offset, "checksum mismatch")
      }
      do {
        try replay(payload, report: &report)
      } catch {
        return (offset, "unreadable record (\(error.description))")
      }
      report.records += 1
      offset += 8 + length
    }
    return (offset, nil)
  }

  /// Appends to the newest segment (or a new one after the last replayed position) from here on;
  /// the directory is synced so that the segment's entry is durable.
  private func openLog(
    directory: String, policy: FsyncPolicy, segments: [(lsn: UInt64, path: String)]
  ) throws(ArbiterError) {
    let last = lastLSN
    let path = segments.last?.path ?? directory + "/" + WriteAheadLog.segmentName(startingAt: last + 1)
    log = try WriteAheadLog(directory: directory, segmentPath: path, policy: policy, durable: last)
    syncDirectory(directory)
  }
}
