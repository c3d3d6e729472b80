import ArbiterCore
import Atomics
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// The snapshot file: a 4 KiB header, then page-aligned sections laid out so that the file can
/// be mapped and used in place (no parsing):
///
/// | section | content |
/// |---|---|
/// | index | `capacity × [u64 id (0 empty)][u32 row (u32.max: not in this snapshot)][u32 0]` |
/// | rows | `padded rows × [u64 log position << 1][width × f32]` (each row padded to 8 bytes) |
/// | name refs | `padded rows × u32` offsets into the names section |
/// | names | `[u8 length][UTF-8]` per name |
///
/// Header: magic `ARBSNAP1`, format, width, rows, padded rows, index capacity, the log position
/// the snapshot started at (replay resumes after it), creation time, the schema's SHA-256, each
/// section's offset, length and checksum, and the header's own checksum in its last 8 bytes.
enum SnapshotFormat {
  static let magic: UInt64 = 0x3150_414E_5342_5241  // "ARBSNAP1"
  static let version: UInt32 = 2
  static let headerSize = 4096
  static let fileName = "snapshot.arb"
  static let sectionCount = 4
  static let sectionNames = ["index", "rows", "name references", "names"]

  struct Header {
    var width: Int
    var rows: Int
    var paddedRows: Int
    var capacity: Int
    var startLSN: UInt64
    var createdMillis: Int64
    var schemaHash: [UInt8]
    var sections: [(offset: Int, length: Int, checksum: UInt64)]
  }

  static func align(_ n: Int) -> Int { (n + 4095) & ~4095 }

  static func layout(width: Int, paddedRows: Int, capacity: Int) -> [(offset: Int, length: Int)] {
    let lengths = [capacity * HashIndex.slotSize, paddedRows * RowSegments.stride(width: width), paddedRows * 4]
    var offset = headerSize
    var result: [(Int, Int)] = []
    for length in lengths {
      result.append((offset, length))
      offset = align(offset + length)
    }
    result.append((offset, 0))  // names: length known after writing
    return result
  }

  static func encode(_ header: Header) -> [UInt8] {
    var w = LogRecords.Writer()
    w.put(magic)
    w.put(version)
    w.put(UInt32(header.width))
    w.put(UInt64(header.rows))
    w.put(UInt64(header.paddedRows))
    w.put(UInt64(header.capacity))
    w.put(header.startLSN)
    w.put(header.createdMillis)
    w.bytes.append(contentsOf: header.schemaHash)
    for section in header.sections {
      w.put(UInt64(section.offset))
      w.put(UInt64(section.length))
      w.put(section.checksum)
    }
    w.bytes.append(contentsOf: [UInt8](repeating: 0, count: headerSize - 8 - w.bytes.count))
    w.put(FastHash.hash(w.bytes))
    return w.bytes
  }

  static func decode(_ pointer: UnsafeRawPointer, length: Int, path: String) throws(ArbiterError) -> Header {
    guard length >= headerSize else { throw ArbiterError(.dataCorrupted, "\(path): \(length) bytes, shorter than a snapshot header; refusing it") }
    let buffer = UnsafeRawBufferPointer(start: pointer, count: headerSize)
    var r = LogRecords.Reader(buffer)
    func fail(_ what: String) -> ArbiterError { ArbiterError(.dataCorrupted, "\(path): \(what); refusing the snapshot") }
    do {
      guard try r.get(UInt64.self) == magic else { throw fail("not an Arbiter snapshot (bad magic)") }
      let stored = buffer.loadUnaligned(fromByteOffset: headerSize - 8, as: UInt64.self)
      guard FastHash.hash(pointer, count: headerSize - 8) == UInt64(littleEndian: stored) else { throw fail("header checksum mismatch") }
      let format = try r.get(UInt32.self)
      guard format == version else { throw ArbiterError(.failedPrecondition, "\(path): snapshot format \(format), this server reads \(version)") }
      let width = Int(try r.get(UInt32.self))
      let rows = Int(try r.get(UInt64.self))
      let padded = Int(try r.get(UInt64.self))
      let capacity = Int(try r.get(UInt64.self))
      let start = try r.get(UInt64.self)
      let created = Int64(bitPattern: try r.get(UInt64.self))
      let hash = (0..<32).map { buffer[r.offset + $0] }
      r.offset += 32
      var sections: [(Int, Int, UInt64)] = []
      for _ in 0..<sectionCount { sections.append((Int(try r.get(UInt64.self)), Int(try r.get(UInt64.self)), try r.get(UInt64.self))) }
      for (i, section) in sections.enumerated() where section.0 < headerSize || section.0 + section.1 > length {
        throw fail("section \(i) (bytes \(section.0)..<\(section.0 + section.1)) lies outside the \(length)-byte file: truncated")
      }
      return Header(width: width, rows: rows, paddedRows: padded, capacity: capacity, startLSN: start, createdMillis: created, schemaHash: hash, sections: sections)
    } catch let error as ArbiterError {
      throw error
    } catch {
      throw fail("header unreadable")
    }
  }
}

/// What a snapshot wrote.
public struct SnapshotReport: Sendable {
  public var path: String
  public var rows: Int
  public var bytes: Int
  public var startLSN: UInt64
  public var seconds: Double
  public var removedSegments: Int
}

extension FeatureStore {
  /// Writes a snapshot in the background of decisions: readers are never blocked, and writers
  /// only for the moment it takes to rotate the log. Each row is copied under its sequence lock
  /// with its log position, so replaying the log from where the snapshot started skips exactly
  /// what the snapshot already holds. When the new file is durable it replaces the old one and
  /// the log segments before it are deleted (compaction).
  public func writeSnapshot() throws(ArbiterError) -> SnapshotReport {
    guard let directory, let log else { throw ArbiterError(.failedPrecondition, "an in-memory store has no snapshot") }
    let started = DispatchTime.now().uptimeNanoseconds
    // 1. Fix the cut: rows that exist now, and the log position everything after is replayed from.
    var startLSN: UInt64 = 0
    var rows = 0
    try withWriterLock { (next: inout UInt64) throws(ArbiterError) in
      startLSN = next - 1
      rows = count
      try log.rotate(startingAt: next)
    }
    let table = currentIndex()
    let padded = max(RowSegments.rowsPerSegment, (rows + RowSegments.rowsPerSegment - 1) / RowSegments.rowsPerSegment * RowSegments.rowsPerSegment)
    let capacity = table.capacity
    let layout = SnapshotFormat.layout(width: width, paddedRows: padded, capacity: capacity)
    let temporary = directory + "/" + SnapshotFormat.fileName + ".tmp"
    let fd = Glibc.open(temporary, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard fd >= 0 else { throw ArbiterError(.failedPrecondition, "cannot create '\(temporary)': \(String(cString: strerror(errno)))") }
    var closed = false
    defer { if !closed { Glibc.close(fd); unlink(temporary) } }

    var failure: String?
    func put(_ buffer: UnsafeRawBufferPointer, at offset: Int) {
      var written = 0
      while written < buffer.count && failure == nil {
        let n = pwrite(fd, buffer.baseAddress! + written, buffer.count - written, off_t(offset + written))
        if n < 0 { if errno != EINTR { failure = String(cString: strerror(errno)) } } else { written += n }
      }
    }
    let chunkRows = 4_096
    // 2. Index: the live table, with ids whose rows came after the cut marked as tombstones.
    do {
      let batch = 65_536
      var slots = [UInt8](repeating: 0, count: batch * HashIndex.slotSize)
      var slot = 0
      while slot < capacity {
        let n = min(batch, capacity - slot)
        slots.withUnsafeMutableBytes { out in
          for i in 0..<n {
            let key = table.key(at: slot + i)
            let row = table.row(at: slot + i)
            let stored: UInt32 = key == 0 ? 0 : (Int(row) < rows ? row : HashIndex.tombstone)
            out.storeBytes(of: key.littleEndian, toByteOffset: i * HashIndex.slotSize, as: UInt64.self)
            out.storeBytes(of: stored.littleEndian, toByteOffset: i * HashIndex.slotSize + 8, as: UInt32.self)
            out.storeBytes(of: UInt32(0), toByteOffset: i * HashIndex.slotSize + 12, as: UInt32.self)
          }
        }
        slots.withUnsafeBytes { put(UnsafeRawBufferPointer(rebasing: $0[0..<(n * HashIndex.slotSize)]), at: layout[0].offset + slot * HashIndex.slotSize) }
        slot += n
      }
    }
    // 3. Rows: state word and values, one consistent copy each; names compacted into their own section.
    let stride = RowSegments.stride(width: width)
    var rowBytes = [UInt8](repeating: 0, count: chunkRows * stride)
    var refs = [UInt32](repeating: NameArena.none, count: chunkRows)
    var nameBytes: [UInt8] = []
    var namesOffset = 0
    var row = 0
    var scratch = [Float](repeating: .nan, count: width)
    while row < padded {
      let n = min(chunkRows, padded - row)
      rowBytes.withUnsafeMutableBytes { out in
        for i in 0..<n {
          let r = row + i
          let target = out.baseAddress! + i * stride
          if r < rows {
            let lsn = scratch.withUnsafeMutableBufferPointer { segments.read(r, into: $0.baseAddress!) }
            target.storeBytes(of: (lsn << 1).littleEndian, as: UInt64.self)
            scratch.withUnsafeBytes { (target + 8).copyMemory(from: $0.baseAddress!, byteCount: width * 4) }
            let name = Array(displayName(row: r).utf8)
            if name.isEmpty { refs[i] = NameArena.none } else {
              refs[i] = UInt32(namesOffset + nameBytes.count)
              nameBytes.append(UInt8(name.count))
              nameBytes.append(contentsOf: name)
            }
          } else {
            target.storeBytes(of: UInt64(0), as: UInt64.self)
            (target + 8).initializeMemory(as: Float.self, repeating: .nan, count: width)
            refs[i] = NameArena.none
          }
        }
      }
      rowBytes.withUnsafeBytes { put(UnsafeRawBufferPointer(rebasing: $0[0..<(n * stride)]), at: layout[1].offset + row * stride) }
      refs.withUnsafeBytes { put(UnsafeRawBufferPointer(rebasing: $0[0..<(n * 4)]), at: layout[2].offset + row * 4) }
      if nameBytes.count >= 1 << 20 || row + n >= padded {
        nameBytes.withUnsafeBytes { put($0, at: layout[3].offset + namesOffset) }
        namesOffset += nameBytes.count
        nameBytes.removeAll(keepingCapacity: true)
      }
      row += n
    }
    if let failure { throw ArbiterError(.failedPrecondition, "cannot write '\(temporary)': \(failure)") }
    let fileLength = layout[3].offset + namesOffset
    guard ftruncate(fd, off_t(max(fileLength, layout[3].offset))) == 0 else {
      throw ArbiterError(.failedPrecondition, "cannot size '\(temporary)': \(String(cString: strerror(errno)))")
    }
    // 4. Checksums, read back from the written file, then the header.
    let mapped = mmap(nil, fileLength, PROT_READ, MAP_SHARED, fd, 0)
    guard let mapped, mapped != MAP_FAILED else { throw ArbiterError(.failedPrecondition, "cannot map '\(temporary)' to checksum it") }
    var sections: [(offset: Int, length: Int, checksum: UInt64)] = []
    for (i, section) in layout.enumerated() {
      let length = i == 3 ? namesOffset : section.length
      sections.append((section.offset, length, FastHash.hash(mapped + section.offset, count: length)))
    }
    munmap(mapped, fileLength)
    let header = SnapshotFormat.encode(SnapshotFormat.Header(
      width: width, rows: rows, paddedRows: padded, capacity: capacity, startLSN: startLSN,
      createdMillis: Int64(Date().timeIntervalSince1970 * 1000), schemaHash: Checksum.sha256(try Self.schemaBytes(schema)), sections: sections))
    header.withUnsafeBytes { put($0, at: 0) }
    if let failure { throw ArbiterError(.failedPrecondition, "cannot write '\(temporary)': \(failure)") }
    // 5. Durable, then atomically in place; older log segments are no longer needed.
    guard fsync(fd) == 0 else { throw ArbiterError(.failedPrecondition, "cannot sync '\(temporary)': \(String(cString: strerror(errno)))") }
    Glibc.close(fd)
    closed = true
    let final = directory + "/" + SnapshotFormat.fileName
    guard rename(temporary, final) == 0 else { throw ArbiterError(.failedPrecondition, "cannot rename '\(temporary)': \(String(cString: strerror(errno)))") }
    syncDirectory(directory)
    snapshotLSN = startLSN
    var removed = 0
    for segment in WriteAheadLog.segments(in: directory) where segment.lsn <= startLSN {
      if unlink(segment.path) == 0 { removed += 1 }
    }
    return SnapshotReport(
      path: final, rows: rows, bytes: fileLength, startLSN: startLSN,
      seconds: Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9, removedSegments: removed)
  }
}
