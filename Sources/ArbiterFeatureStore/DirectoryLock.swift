import ArbiterCore

#if canImport(Glibc)
  import Glibc
#endif

/// An exclusive lock on a store directory (`LOCK`, flock), held while the store is open: two
/// processes never write one store. Released when the process exits, however it exits.
final class DirectoryLock: @unchecked Sendable {
  private let fd: Int32

  init(directory: String) throws(ArbiterError) {
    let path = directory + "/LOCK"
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
    guard fd >= 0 else {
      throw ArbiterError(.failedPrecondition, "cannot open '\(path)': \(String(cString: strerror(errno)))")
    }
    guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
      close(fd)
      throw ArbiterError(.failedPrecondition, "the feature store '\(directory)' is in use by another process")
    }
  }

  deinit {
    flock(fd, LOCK_UN)
    close(fd)
  }
}
