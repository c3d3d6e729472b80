import ArbiterCore
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// Taking a snapshot: the cut, the file written by a ``SnapshotWriter``, then compaction of the log.
extension FeatureStore {
  /// Writes a snapshot in the background of decisions: readers are never blocked, and writers
  /// only for the moment it takes to rotate the log. Each row is copied under its sequence lock
  /// with its log position, so replaying the log from where the snapshot started skips exactly
  /// what the snapshot already holds. When the new file is durable it replaces the old one and
  /// the log segments before it are deleted (compaction).
  public func writeSnapshot() throws(ArbiterError) -> SnapshotReport {
    guard let directory, let log else { throw ArbiterError(.failedPrecondition, "an in-memory store has no snapshot") }
    snapshotGate.lock()
    defer { snapshotGate.unlock() }
    let started = DispatchTime.now().uptimeNanoseconds
    let cut = try snapshotCut(rotating: log)
    var writer = try SnapshotWriter(store: self, directory: directory, cut: cut)
    defer { writer.discardUnlessClosed() }
    writer.writeIndex()
    writer.writeRows()
    writer.writeConsents()
    try writer.checkWritten()
    try writer.sizeFile()
    try writer.writeHeader()
    try writer.syncAndClose()
    let final = try writer.moveInPlace()
    snapshotLSN = cut.startLSN
    snapshotMillis.store(Int64(Date().timeIntervalSince1970 * 1_000), ordering: .relaxed)
    let removed = removeSegments(upTo: cut.startLSN, in: directory)
    return SnapshotReport(
      path: final, rows: cut.rows, bytes: writer.fileLength, startLSN: cut.startLSN,
      seconds: Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9, removedSegments: removed)
  }

  /// Fixes the cut under the writer lock: the rows that exist now, and the log position everything
  /// after is replayed from; the log moves on to a new segment that starts after it.
  private func snapshotCut(rotating log: WriteAheadLog) throws(ArbiterError) -> SnapshotWriter.Cut {
    var startLSN: UInt64 = 0
    var rows = 0
    try withWriterLock { (next: inout UInt64) throws(ArbiterError) in
      startLSN = next - 1
      rows = count
      try log.rotate(startingAt: next)
    }
    return SnapshotWriter.Cut(startLSN: startLSN, rows: rows)
  }

  /// Deletes the log segments that start at or before `startLSN` (the snapshot holds them);
  /// returns how many were deleted.
  private func removeSegments(upTo startLSN: UInt64, in directory: String) -> Int {
    var removed = 0
    for segment in WriteAheadLog.segments(in: directory) where segment.lsn <= startLSN {
      if unlink(segment.path) == 0 { removed += 1 }
    }
    return removed
  }
}
