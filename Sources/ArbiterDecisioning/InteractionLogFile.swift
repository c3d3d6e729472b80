import ArbiterCore
import Dispatch
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// The interaction log's file: lines are appended by one serial writer queue of its own, so that
/// no caller — an event-loop thread deciding inline above all — ever blocks on `write(2)`.
/// Appends keep their order; ``appendAndWait(_:)`` returns once its bytes (and all before them)
/// are written. ``rewrite(_:)`` replaces the file's lines on the same queue (erasure).
final class InteractionLogFile: Sendable {
  let path: String
  /// The open file; touched only on `queue` (a rewrite replaces it).
  private let handle: HandleBox
  private let queue: DispatchQueue

  /// The file handle, replaced when the file is rewritten; only ever used on the writer queue.
  private final class HandleBox: @unchecked Sendable {
    var handle: FileHandle
    init(_ handle: FileHandle) { self.handle = handle }
  }

  /// Opens `path` for appending (creating it and its directory); ends a last line cut short by
  /// a crash (`endsInsideLine`) so that new lines start on their own.
  init(path: String, endsInsideLine: Bool) throws(ArbiterError) {
    self.path = path
    queue = DispatchQueue(label: "arbiter.interaction-log.file", qos: .utility)
    let url = URL(fileURLWithPath: path)
    do {
      try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
      if !FileManager.default.fileExists(atPath: path) { FileManager.default.createFile(atPath: path, contents: nil) }
      let handle = try FileHandle(forWritingTo: url)
      try handle.seekToEnd()
      if endsInsideLine { try handle.write(contentsOf: Data([0x0A])) }
      self.handle = HandleBox(handle)
    } catch {
      throw ArbiterError(.failedPrecondition, "cannot open interaction log '\(path)': \(error)")
    }
  }

  /// Queues `bytes` to be written; returns at once.
  func append(_ bytes: [UInt8]) {
    guard !bytes.isEmpty else { return }
    let box = self.handle
    queue.async { Self.write(bytes, to: box.handle) }
  }

  /// Writes `bytes` after everything queued before them; returns when they are written.
  func appendAndWait(_ bytes: [UInt8]) {
    let box = self.handle
    queue.sync { Self.write(bytes, to: box.handle) }
  }

  private static func write(_ bytes: [UInt8], to handle: FileHandle) {
    guard !bytes.isEmpty else { return }
    bytes.withUnsafeBytes { raw in
      handle.write(
        Data(bytesNoCopy: UnsafeMutableRawPointer(mutating: raw.baseAddress!), count: raw.count, deallocator: .none))
    }
  }

  /// After everything queued before it is written, rewrites the file through `transform`, 8 MiB
  /// of whole lines at a time, into a temporary file that is synced and renamed over it (so a
  /// crash leaves either the old file or the new one); appends wait meanwhile. Returns what
  /// `transform` counted.
  func rewrite(_ transform: @escaping ([UInt8]) -> (text: [UInt8], changed: Int)) throws(ArbiterError) -> Int {
    let box = self.handle, path = self.path
    let result: Result<Int, ArbiterError> = queue.sync {
      do {
        try box.handle.synchronize()
        let temporary = path + ".rewrite"
        FileManager.default.createFile(atPath: temporary, contents: nil)
        let input = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
        defer { try? input.close() }
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: temporary))
        var changed = 0
        var carry: [UInt8] = []
        while true {
          let chunk = try input.read(upToCount: 8 << 20) ?? Data()
          carry += chunk
          let whole = chunk.isEmpty ? carry.count : (carry.lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? 0)
          if whole > 0 {
            let (text, count) = transform(Array(carry[0..<whole]))
            changed += count
            try output.write(contentsOf: Data(text))
            carry.removeFirst(whole)
          }
          if chunk.isEmpty { break }
        }
        try output.synchronize()
        try output.close()
        guard rename(temporary, path) == 0 else {
          throw ArbiterError(.failedPrecondition, "cannot rename '\(temporary)': \(String(cString: strerror(errno)))")
        }
        let directory = (path as NSString).deletingLastPathComponent
        let fd = Glibc.open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY)
        if fd >= 0 {
          fsync(fd)
          Glibc.close(fd)
        }
        try? box.handle.close()
        let reopened = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try reopened.seekToEnd()
        box.handle = reopened
        return .success(changed)
      } catch let error as ArbiterError {
        return .failure(error)
      } catch {
        return .failure(ArbiterError(.failedPrecondition, "cannot rewrite interaction log '\(path)': \(error)"))
      }
    }
    return try result.get()
  }
}
