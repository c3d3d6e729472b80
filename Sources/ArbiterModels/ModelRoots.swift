import ArbiterCore
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// The directories a request may load bundles from (Reload, SetChallenger): a path it names must
/// lie inside one of them once symbolic links and `..` are resolved, so that no caller can make
/// the server read `/etc/passwd` or another file it should not. The configured bundle and the
/// watch of its root are not requests, and not checked.
public struct ModelRoots: Sendable, Equatable {
  /// The roots as configured.
  public let roots: [String]
  /// The same, resolved to absolute paths without links.
  let resolved: [String]

  /// Roots at `roots` (relative paths are taken from the working directory).
  public init(_ roots: [String]) {
    self.roots = roots
    resolved = roots.map { Self.resolve($0) }
  }

  /// The roots by default: the directory holding the configured bundle (`models` for `models/demo`).
  public static func containing(bundlePath: String) -> ModelRoots {
    let parent = (bundlePath as NSString).deletingLastPathComponent
    return ModelRoots([parent.isEmpty ? "." : parent])
  }

  /// `path`, refused (INVALID_ARGUMENT, naming `field` and the roots) when it lies outside every root.
  public func check(_ path: String, field: String) throws(ArbiterError) {
    let target = Self.resolve(path)
    guard resolved.contains(where: { target == $0 || target.hasPrefix($0.hasSuffix("/") ? $0 : $0 + "/") }) else {
      throw ArbiterError(
        .invalidArgument,
        "\(field): \(Self.shown(path)) is outside the model roots (\(roots.joined(separator: ", "))); bundles are "
          + "loaded only from there (bundle.model-roots in the configuration)")
    }
  }

  /// An absolute path with links and `.`/`..` resolved as far as the path exists (the rest kept
  /// as written, `..` applied), so that a path cannot climb out of a root through either.
  static func resolve(_ path: String) -> String {
    let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
    var existing = absolute
    var rest: [String] = []
    while !existing.isEmpty {
      if let real = realpath(existing, nil) {
        defer { free(real) }
        var parts = String(cString: real).split(separator: "/").map(String.init)
        for part in rest {
          if part == ".." { _ = parts.popLast() } else if part != "." && !part.isEmpty { parts.append(part) }
        }
        return "/" + parts.joined(separator: "/")
      }
      let name = (existing as NSString).lastPathComponent
      rest.insert(name, at: 0)
      let parent = (existing as NSString).deletingLastPathComponent
      if parent == existing { break }
      existing = parent
    }
    return absolute
  }

  /// A path as an error message shows it: at most 200 characters, so that a message stays
  /// within a client's header limit however long the path sent.
  public static func shown(_ path: String) -> String {
    path.count <= 200 ? "'\(path)'" : "'\(path.prefix(200))…' (\(path.count) characters)"
  }
}
