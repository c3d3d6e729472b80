import ArbiterCore
import Atomics
import Foundation
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// When the log is forced to disk. Every policy acknowledges a write only after it has reached
/// the kernel (so it survives the server being killed); they differ in what survives power loss.
public enum FsyncPolicy: Sendable, Hashable, CustomStringConvertible {
  /// fsync before acknowledging: nothing acknowledged is lost, even on power loss.
  case always
  /// fsync at most every N ms (group commit): power loss may lose the last N ms.
  case interval(milliseconds: Int)

  /// "always", or "every N ms".
  public var description: String {
    switch self {
    case .always: "always"
    case .interval(let ms): "every \(ms) ms"
    }
  }

  /// Parses "always" or a number of milliseconds.
  public init?(_ text: String) {
    if text == "always" { self = .always; return }
    guard let ms = Int(text), ms > 0 else { return nil }
    self = .interval(milliseconds: ms)
  }
}

/// The append-only log of store updates, in segment files `wal-<first lsn>.log`. Each record is
/// `[u32 length][u32 checksum][payload]`. Writers append under the store's writer lock; one
/// flusher thread writes what has accumulated in one `write` (group commit), syncs per policy,
/// and wakes the writers waiting for their position to be durable.
final class WriteAheadLog: @unchecked Sendable {
  static let segmentPrefix = "wal-"
  static let segmentSuffix = ".log"

  let directory: String
  let policy: FsyncPolicy
  private let condition = NSCondition()
  private var pending: [UInt8] = []
  private var pendingLSN: UInt64 = 0
  private var stopping = false
  private let fileLock = NSLock()
  private var fd: Int32
  private var segmentPath: String
  private var unsyncedSince: UInt64?
  private let durableLSN = ManagedAtomic<UInt64>(0)
  private let failed = ManagedAtomic<Bool>(false)
  private let waiters = Mutex<[(lsn: UInt64, continuation: CheckedContinuation<Void, any Error>)]>([])
  private var thread: Thread?
  private let stopped = DispatchSemaphore(value: 0)

  /// Opens `path` for appending (creating it), durable up to `durable`.
  init(directory: String, segmentPath: String, policy: FsyncPolicy, durable: UInt64) throws(ArbiterError) {
    self.directory = directory
    self.policy = policy
    self.segmentPath = segmentPath
    fd = open(segmentPath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
    guard fd >= 0 else {
      throw ArbiterError(
        .failedPrecondition, "cannot open log segment '\(segmentPath)': \(String(cString: strerror(errno)))")
    }
    durableLSN.store(durable, ordering: .relaxed)
    pendingLSN = durable
    let thread = Thread { [unowned self] in self.flushLoop() }
    thread.name = "arbiter-wal"
    self.thread = thread
    thread.start()
  }

  static func segmentName(startingAt lsn: UInt64) -> String {
    segmentPrefix + String(repeating: "0", count: max(0, 20 - String(lsn).count)) + String(lsn) + segmentSuffix
  }

  /// Segment files in `directory`, oldest first, with their first LSN.
  static func segments(in directory: String) -> [(lsn: UInt64, path: String)] {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
    return names.compactMap { name -> (UInt64, String)? in
      guard name.hasPrefix(segmentPrefix), name.hasSuffix(segmentSuffix),
        let lsn = UInt64(name.dropFirst(segmentPrefix.count).dropLast(segmentSuffix.count))
      else { return nil }
      return (lsn, directory + "/" + name)
    }.sorted { $0.0 < $1.0 }
  }

  /// Frames `payload` and queues it; `lastLSN` is the newest position it contains.
  func append(_ payload: UnsafeRawBufferPointer, lastLSN: UInt64) {
    let checksum = UInt32(truncatingIfNeeded: FastHash.hash(payload.baseAddress!, count: payload.count))
    condition.lock()
    withUnsafeBytes(of: UInt32(payload.count).littleEndian) { pending.append(contentsOf: $0) }
    withUnsafeBytes(of: checksum.littleEndian) { pending.append(contentsOf: $0) }
    pending.append(contentsOf: payload)
    pendingLSN = lastLSN
    condition.signal()
    condition.unlock()
  }

  /// Returns once every record up to `lsn` is durable per the policy; throws if the log failed.
  func waitDurable(_ lsn: UInt64) async throws {
    if durableLSN.load(ordering: .acquiring) >= lsn { return }
    try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
      let ready: Bool = waiters.withLock { list in
        if durableLSN.load(ordering: .acquiring) >= lsn || failed.load(ordering: .acquiring) { return true }
        list.append((lsn, continuation))
        return false
      }
      if ready {
        if failed.load(ordering: .acquiring) {
          continuation.resume(
            throwing: ArbiterError(.failedPrecondition, "the update log failed to write; updates are refused"))
        } else {
          continuation.resume()
        }
      }
    }
  }

  /// The newest durable position.
  var durable: UInt64 { durableLSN.load(ordering: .acquiring) }

  private func flushLoop() {
    let interval: UInt64 = {
      if case .interval(let ms) = policy { return UInt64(ms) * 1_000_000 }
      return 0
    }()
    while true {
      condition.lock()
      while pending.isEmpty && !stopping {
        if let since = unsyncedSince, interval > 0 {
          let now = DispatchTime.now().uptimeNanoseconds
          if now >= since + interval { break }
          _ = condition.wait(until: Date(timeIntervalSinceNow: Double(since + interval - now) / 1e9))
        } else {
          condition.wait()
        }
      }
      let data = pending
      pending.removeAll(keepingCapacity: true)
      let lsn = pendingLSN
      let stop = stopping
      condition.unlock()

      fileLock.lock()
      var ok = true
      if !data.isEmpty {
        ok = writeAll(data)
        if ok && unsyncedSince == nil { unsyncedSince = DispatchTime.now().uptimeNanoseconds }
      }
      let now = DispatchTime.now().uptimeNanoseconds
      if ok, let since = unsyncedSince, policy == .always || stop || now >= since + interval {
        ok = fdatasync(fd) == 0
        unsyncedSince = nil
      }
      fileLock.unlock()
      if !ok { failed.store(true, ordering: .releasing) }
      if ok && !data.isEmpty { durableLSN.store(lsn, ordering: .releasing) }
      resumeWaiters()
      if stop {
        condition.lock()
        let drained = pending.isEmpty
        condition.unlock()
        if drained { break }
      }
    }
    stopped.signal()
  }

  private func writeAll(_ data: [UInt8]) -> Bool {
    data.withUnsafeBytes { buffer in
      var offset = 0
      while offset < buffer.count {
        let n = write(fd, buffer.baseAddress! + offset, buffer.count - offset)
        if n < 0 { if errno == EINTR { continue }; return false }
        offset += n
      }
      return true
    }
  }

  private func resumeWaiters() {
    let durable = durableLSN.load(ordering: .acquiring)
    let failure = failed.load(ordering: .acquiring)
    let ready = waiters.withLock { list in
      let ready = list.filter { failure || $0.lsn <= durable }
      list.removeAll { failure || $0.lsn <= durable }
      return ready
    }
    for waiter in ready {
      if failure {
        waiter.continuation.resume(
          throwing: ArbiterError(.failedPrecondition, "the update log failed to write; updates are refused"))
      } else {
        waiter.continuation.resume()
      }
    }
  }

  /// Writes and syncs everything queued, then continues in a new segment starting at `lsn`.
  /// Called under the store's writer lock (nothing is appended meanwhile).
  func rotate(startingAt lsn: UInt64) throws(ArbiterError) {
    condition.lock()
    let data = pending
    pending.removeAll(keepingCapacity: true)
    let queued = pendingLSN
    condition.unlock()
    fileLock.lock()
    defer { fileLock.unlock() }
    guard writeAll(data), fsync(fd) == 0 else {
      failed.store(true, ordering: .releasing)
      throw ArbiterError(
        .failedPrecondition, "cannot write log segment '\(segmentPath)': \(String(cString: strerror(errno)))")
    }
    unsyncedSince = nil
    if !data.isEmpty { durableLSN.store(queued, ordering: .releasing) }
    let path = directory + "/" + Self.segmentName(startingAt: lsn)
    let next = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
    guard next >= 0 else {
      throw ArbiterError(.failedPrecondition, "cannot open log segment '\(path)': \(String(cString: strerror(errno)))")
    }
    close(fd)
    fd = next
    segmentPath = path
    syncDirectory(directory)
    resumeWaiters()
  }

  /// Flushes, syncs and stops the flusher.
  func shutdown() {
    condition.lock()
    stopping = true
    condition.signal()
    condition.unlock()
    stopped.wait()
    fileLock.lock()
    fsync(fd)
    close(fd)
    fd = -1
    fileLock.unlock()
  }
}

/// fsyncs a directory so that a new or renamed file in it survives a crash.
func syncDirectory(_ path: String) {
  let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
  if fd >= 0 {
    fsync(fd)
    close(fd)
  }
}
