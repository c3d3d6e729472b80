import ArbiterCore
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// A file mapped copy-on-write: reads come from the page cache, writes stay private to the
/// process and never reach the file.
final class MappedFile: @unchecked Sendable {
  let pointer: UnsafeMutableRawPointer
  let length: Int

  init(path: String) throws(ArbiterError) {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw ArbiterError(.notFound, "cannot open '\(path)': \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    var info = stat()
    guard fstat(fd, &info) == 0 else { throw ArbiterError(.failedPrecondition, "cannot stat '\(path)'") }
    length = Int(info.st_size)
    guard length > 0 else { throw ArbiterError(.dataCorrupted, "\(path): empty file") }
    let mapped = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_POPULATE, fd, 0)
    guard let mapped, mapped != MAP_FAILED else {
      throw ArbiterError(.failedPrecondition, "cannot map '\(path)': \(String(cString: strerror(errno)))")
    }
    pointer = mapped
  }

  deinit { munmap(pointer, length) }
}
