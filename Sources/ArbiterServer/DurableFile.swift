import ArbiterCore
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// Replacing a small file so that a crash leaves the old contents or the new, never a torn
/// file: written to a temporary file beside it, synced, renamed over it, the directory synced.
enum DurableFile {
  /// Replaces the file at `path` with `data`; `what` names the file in errors.
  static func replace(_ path: String, with data: Data, what: String) throws(ArbiterError) {
    let temporary = path + ".tmp"
    let directory = (path as NSString).deletingLastPathComponent
    do {
      if !directory.isEmpty {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
      }
    } catch {
      throw ArbiterError(.failedPrecondition, "cannot make the directory of \(what) \(path): \(error)")
    }
    guard FileManager.default.createFile(atPath: temporary, contents: data) else {
      throw ArbiterError(.failedPrecondition, "cannot write \(temporary)")
    }
    try sync(temporary)
    guard rename(temporary, path) == 0 else {
      throw ArbiterError(.failedPrecondition, "cannot rename \(temporary) to \(path)")
    }
    try sync(directory.isEmpty ? "." : directory)
  }

  private static func sync(_ path: String) throws(ArbiterError) {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw ArbiterError(.failedPrecondition, "cannot open \(path) to sync it") }
    defer { close(fd) }
    guard fsync(fd) == 0 else { throw ArbiterError(.failedPrecondition, "cannot sync \(path)") }
  }
}
