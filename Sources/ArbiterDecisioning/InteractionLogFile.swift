import ArbiterCore
import Dispatch
import Foundation

/// The interaction log's file: lines are appended by one serial writer queue of its own, so that
/// no caller — an event-loop thread deciding inline above all — ever blocks on `write(2)`.
/// Appends keep their order; ``appendAndWait(_:)`` returns once its bytes (and all before them)
/// are written.
final class InteractionLogFile: Sendable {
  let path: String
  private let handle: FileHandle
  private let queue: DispatchQueue

  /// Opens `path` for appending (creating it and its directory); ends a last line cut short by
  /// a crash (`endsInsideLine`) so that new lines start on their own.
  init(path: String, endsInsideLine: Bool) throws(ArbiterError) {
    self.path = path
    queue = DispatchQueue(label: "arbiter.interaction-log.file", qos: .utility)
    let url = URL(fileURLWithPath: path)
    do {
      try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
      if !FileManager.default.fileExists(atPath: path) { FileManager.default.createFile(atPath: path, contents: nil) }
      handle = try FileHandle(forWritingTo: url)
      try handle.seekToEnd()
      if endsInsideLine { try handle.write(contentsOf: Data([0x0A])) }
    } catch {
      throw ArbiterError(.failedPrecondition, "cannot open interaction log '\(path)': \(error)")
    }
  }

  /// Queues `bytes` to be written; returns at once.
  func append(_ bytes: [UInt8]) {
    guard !bytes.isEmpty else { return }
    let handle = self.handle
    queue.async { Self.write(bytes, to: handle) }
  }

  /// Writes `bytes` after everything queued before them; returns when they are written.
  func appendAndWait(_ bytes: [UInt8]) {
    let handle = self.handle
    queue.sync { Self.write(bytes, to: handle) }
  }

  private static func write(_ bytes: [UInt8], to handle: FileHandle) {
    guard !bytes.isEmpty else { return }
    bytes.withUnsafeBytes { raw in
      handle.write(
        Data(bytesNoCopy: UnsafeMutableRawPointer(mutating: raw.baseAddress!), count: raw.count, deallocator: .none))
    }
  }
}
