import ArbiterCore
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// The stages of writing one snapshot file (see ``FeatureStore/writeSnapshot()``): a temporary
/// file, then the index, the rows with their name references and the names, the file's size, the
/// checksums read back and the header, `fsync`, and the rename over the old snapshot. The first
/// failed write is remembered (later ones are skipped) and reported after the rows and after the
/// header; the temporary file is removed unless it was closed durably.
struct SnapshotWriter {
  /// Where the snapshot cuts the log: the rows it holds and the log position it starts at.
  struct Cut {
    var startLSN: UInt64
    var rows: Int
  }

  let store: FeatureStore
  let directory: String
  let cut: Cut
  let table: HashIndex
  let padded: Int
  let capacity: Int
  let layout: [(offset: Int, length: Int)]
  let temporary: String
  let fd: Int32
  /// The first failed write, if any (later writes are skipped).
  private var failure: String?
  /// Bytes of the names section written so far.
  private(set) var namesLength = 0
  /// Bytes of the consents section (written after the names).
  private(set) var consentsLength = 0
  private var closed = false

  /// Where the consents section starts: the first page after the names.
  var consentsOffset: Int { SnapshotFormat.align(layout[3].offset + namesLength) }
  /// The file's length: everything up to the end of the consents section.
  var fileLength: Int { consentsOffset + consentsLength }

  /// Lays out the file for the live index and `cut.rows` rows (padded to whole segments), and
  /// creates the temporary file next to the snapshot.
  init(store: FeatureStore, directory: String, cut: Cut) throws(ArbiterError) {
    self.store = store
    self.directory = directory
    self.cut = cut
    table = store.currentIndex()
    let perSegment = RowSegments.rowsPerSegment
    padded = max(perSegment, (cut.rows + perSegment - 1) / perSegment * perSegment)
    capacity = table.capacity
    layout = SnapshotFormat.layout(width: store.width, paddedRows: padded, capacity: capacity)
    temporary = directory + "/" + SnapshotFormat.fileName + ".tmp"
    fd = Glibc.open(temporary, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard fd >= 0 else {
      throw ArbiterError(.failedPrecondition, "cannot create '\(temporary)': \(String(cString: strerror(errno)))")
    }
  }

  /// Closes and removes the temporary file unless ``syncAndClose()`` closed it (any failure).
  func discardUnlessClosed() {
    if !closed {
      Glibc.close(fd)
      unlink(temporary)
    }
  }

  /// Writes `buffer` at `offset`, retrying short and interrupted writes; the first failure is
  /// kept and every later write skipped.
  private mutating func put(_ buffer: UnsafeRawBufferPointer, at offset: Int) {
    var written = 0
    while written < buffer.count && failure == nil {
      let n = pwrite(fd, buffer.baseAddress! + written, buffer.count - written, off_t(offset + written))
      if n < 0 { if errno != EINTR { failure = String(cString: strerror(errno)) } } else { written += n }
    }
  }

  /// Throws the first failed write, naming the temporary file.
  func checkWritten() throws(ArbiterError) {
    if let failure { throw ArbiterError(.failedPrecondition, "cannot write '\(temporary)': \(failure)") }
  }

  /// Index section: the live table, with ids whose rows came after the cut marked as tombstones,
  /// in batches of 65,536 slots. Once a customer has been erased the live table still holds
  /// their id (as a tombstone): the section is then a table rebuilt from the ids that have rows.
  mutating func writeIndex() {
    let table = store.indexHoldsErasedIds.load(ordering: .relaxed) ? rebuiltTable() : self.table
    let batch = 65_536
    var slots = [UInt8](repeating: 0, count: batch * HashIndex.slotSize)
    var slot = 0
    while slot < capacity {
      let n = min(batch, capacity - slot)
      slots.withUnsafeMutableBytes { out in
        for i in 0..<n {
          let key = table.key(at: slot + i)
          let row = table.row(at: slot + i)
          let stored: UInt32 = key == 0 ? 0 : (Int(row) < cut.rows ? row : HashIndex.tombstone)
          out.storeBytes(of: key.littleEndian, toByteOffset: i * HashIndex.slotSize, as: UInt64.self)
          out.storeBytes(of: stored.littleEndian, toByteOffset: i * HashIndex.slotSize + 8, as: UInt32.self)
          out.storeBytes(of: UInt32(0), toByteOffset: i * HashIndex.slotSize + 12, as: UInt32.self)
        }
      }
      slots.withUnsafeBytes {
        put(
          UnsafeRawBufferPointer(rebasing: $0[0..<(n * HashIndex.slotSize)]),
          at: layout[0].offset + slot * HashIndex.slotSize)
      }
      slot += n
    }
  }

  /// The live table's ids with rows before the cut, in a new table of the same capacity.
  private func rebuiltTable() -> HashIndex {
    let rebuilt = HashIndex(capacity: capacity)
    table.forEach(rowsBelow: cut.rows) { id, row in rebuilt.insert(id, row: row) }
    return rebuilt
  }

  /// The consents section: every recorded consent of a customer still in the store, after the
  /// names. Consents recorded after the cut may be in it; replay sets them again.
  mutating func writeConsents() {
    // Written 1 MiB at a time.
    var entries = LogRecords.Writer()
    var written = 0
    store.consentLedger.forEachRecord { id, record in
      guard store.row(of: id) != nil else { return }
      entries.put(id)
      entries.put(record)
      if entries.bytes.count >= 1 << 20 {
        entries.bytes.withUnsafeBytes { put($0, at: consentsOffset + written) }
        written += entries.bytes.count
        entries.bytes.removeAll(keepingCapacity: true)
      }
    }
    entries.bytes.withUnsafeBytes { put($0, at: consentsOffset + written) }
    consentsLength = written + entries.bytes.count
  }

  /// Rows and name-reference sections, 4,096 rows at a time, and the names section, flushed each
  /// time 1 MiB of names has gathered and at the end.
  mutating func writeRows() {
    let chunkRows = 4_096
    let stride = RowSegments.stride(width: store.width)
    var rowBytes = [UInt8](repeating: 0, count: chunkRows * stride)
    var refs = [UInt32](repeating: NameArena.none, count: chunkRows)
    var nameBytes: [UInt8] = []
    var row = 0
    var scratch = [Float](repeating: .nan, count: store.width)
    while row < padded {
      let n = min(chunkRows, padded - row)
      rowBytes.withUnsafeMutableBytes { out in
        copyRows(
          into: out, from: row, count: n, stride: stride, refs: &refs, names: &nameBytes, scratch: &scratch)
      }
      rowBytes.withUnsafeBytes {
        put(UnsafeRawBufferPointer(rebasing: $0[0..<(n * stride)]), at: layout[1].offset + row * stride)
      }
      refs.withUnsafeBytes { put(UnsafeRawBufferPointer(rebasing: $0[0..<(n * 4)]), at: layout[2].offset + row * 4) }
      if nameBytes.count >= 1 << 20 || row + n >= padded {
        nameBytes.withUnsafeBytes { put($0, at: layout[3].offset + namesLength) }
        namesLength += nameBytes.count
        nameBytes.removeAll(keepingCapacity: true)
      }
      row += n
    }
  }

  /// Copies rows `first..<first + n` into `out`: each real row as one consistent copy (its state
  /// word, the log position shifted left by one, then its values) with its name appended to
  /// `names`; each padding row as empty (0, all values missing, no name).
  private func copyRows(
    into out: UnsafeMutableRawBufferPointer, from first: Int, count n: Int, stride: Int,
    refs: inout [UInt32], names nameBytes: inout [UInt8], scratch: inout [Float]
  ) {
    let width = store.width
    for i in 0..<n {
      let r = first + i
      let target = out.baseAddress! + i * stride
      if r < cut.rows {
        let lsn = scratch.withUnsafeMutableBufferPointer { store.segments.read(r, into: $0.baseAddress!) }
        target.storeBytes(of: (lsn << 1).littleEndian, as: UInt64.self)
        scratch.withUnsafeBytes { (target + 8).copyMemory(from: $0.baseAddress!, byteCount: width * 4) }
        let name = Array(store.displayName(row: r).utf8)
        if name.isEmpty {
          refs[i] = NameArena.none
        } else {
          refs[i] = UInt32(namesLength + nameBytes.count)
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

  /// Sets the file's length to the end of the names section.
  func sizeFile() throws(ArbiterError) {
    guard ftruncate(fd, off_t(fileLength)) == 0 else {
      throw ArbiterError(.failedPrecondition, "cannot size '\(temporary)': \(String(cString: strerror(errno)))")
    }
  }

  /// Each section's checksum, read back from the written file, then the header with them at the
  /// file's start.
  mutating func writeHeader() throws(ArbiterError) {
    let mapped = mmap(nil, fileLength, PROT_READ, MAP_SHARED, fd, 0)
    guard let mapped, mapped != MAP_FAILED else {
      throw ArbiterError(.failedPrecondition, "cannot map '\(temporary)' to checksum it")
    }
    var sections: [(offset: Int, length: Int, checksum: UInt64)] = []
    var extents = layout
    extents[3].length = namesLength
    extents.append((consentsOffset, consentsLength))
    for section in extents {
      sections.append((section.offset, section.length, FastHash.hash(mapped + section.offset, count: section.length)))
    }
    munmap(mapped, fileLength)
    let header = SnapshotFormat.encode(
      SnapshotFormat.Header(
        width: store.width, rows: cut.rows, paddedRows: padded, capacity: capacity, startLSN: cut.startLSN,
        createdMillis: Int64(Date().timeIntervalSince1970 * 1000),
        schemaHash: Checksum.sha256(try FeatureStore.schemaBytes(store.schema)), sections: sections))
    header.withUnsafeBytes { put($0, at: 0) }
    try checkWritten()
  }

  /// Makes the file durable (`fsync`) and closes it.
  mutating func syncAndClose() throws(ArbiterError) {
    guard fsync(fd) == 0 else {
      throw ArbiterError(.failedPrecondition, "cannot sync '\(temporary)': \(String(cString: strerror(errno)))")
    }
    Glibc.close(fd)
    closed = true
  }

  /// Renames the durable file over the snapshot (atomically) and syncs the directory; returns the
  /// snapshot's path.
  func moveInPlace() throws(ArbiterError) -> String {
    let final = directory + "/" + SnapshotFormat.fileName
    guard rename(temporary, final) == 0 else {
      throw ArbiterError(.failedPrecondition, "cannot rename '\(temporary)': \(String(cString: strerror(errno)))")
    }
    syncDirectory(directory)
    return final
  }
}
