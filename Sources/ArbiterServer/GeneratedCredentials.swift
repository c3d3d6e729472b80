import ArbiterAccess
import ArbiterCore
import Foundation
import Logging

#if canImport(Glibc)
  import Glibc
#endif

/// The credentials a server makes itself on first start, so that the embedded default needs no
/// configuration and is still closed to strangers: an admin token (every role) and a site key
/// (`decide` only, which the demo site's pages publish for the web snippet). Each is 32 random
/// bytes in base64url, written once to its file (mode 0600, its directory made), read back on
/// every later start, and accepted as an API key.
struct GeneratedCredentials {
  /// The admin token, if one is configured.
  var adminToken: String?
  /// The site key, if one is configured.
  var siteKey: String?

  /// The admin token and site key `access` names files for, made when missing, and `access` with
  /// them added as API keys (named "admin-token" and "site-key"). A file that exists but cannot
  /// be read, or holds too short a credential, is refused naming it. Nothing is made when
  /// credentials are not required.
  static func provide(
    for access: AccessConfiguration, logger: Logger
  ) throws(ArbiterError) -> (credentials: GeneratedCredentials, access: AccessConfiguration) {
    var access = access
    var credentials = GeneratedCredentials()
    guard access.required else { return (credentials, access) }
    if let path = access.adminTokenFile {
      let token = try credential(
        at: path, what: "admin token", use: "keep it secret; the tools and the console read it there", logger: logger)
      access.apiKeys.append(.init(name: "admin-token", key: token, roles: .all))
      credentials.adminToken = token
    }
    if let path = access.siteKeyFile {
      let key = try credential(
        at: path, what: "site key", use: "it may only decide; the demo site's pages give it to the web snippet",
        logger: logger)
      access.apiKeys.append(.init(name: "site-key", key: key, roles: .decide))
      credentials.siteKey = key
    }
    return (credentials, access)
  }

  /// The credential in the file at `path`, made there first when the file does not exist; `use`
  /// says what it is for when it is made.
  static func credential(at path: String, what: String, use: String, logger: Logger) throws(ArbiterError) -> String {
    if FileManager.default.fileExists(atPath: path) {
      let text: String
      do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
        throw ArbiterError(.failedPrecondition, "cannot read the \(what) file \(path): \(error.localizedDescription)")
      }
      let value = text.trimmingCharacters(in: .whitespacesAndNewlines)
      guard value.utf8.count >= 16, !value.contains(".") else {
        throw ArbiterError(
          .failedPrecondition,
          "the \(what) file \(path) does not hold a credential of at least 16 characters (delete it to make a new one)"
        )
      }
      logger.notice("access: the \(what) is in \(path)")
      return value
    }
    let value = random()
    try write(value + "\n", to: path, what: what)
    logger.notice("access: made a new \(what) in \(path) (\(use))")
    return value
  }

  /// 32 random bytes in base64url.
  static func random() -> String {
    var generator = SystemRandomNumberGenerator()
    let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
    return Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-")
      .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
  }

  /// Writes `text` to a new file at `path`, readable by its owner only, made in full before it
  /// appears (a temporary file renamed), its directory made if missing.
  static func write(_ text: String, to path: String, what: String) throws(ArbiterError) {
    let directory = (path as NSString).deletingLastPathComponent
    do {
      if !directory.isEmpty {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
      }
    } catch {
      throw ArbiterError(
        .failedPrecondition, "cannot make the directory \(directory) for the \(what): \(error.localizedDescription)")
    }
    let temporary = path + ".new"
    let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    guard fd >= 0 else {
      throw ArbiterError(
        .failedPrecondition, "cannot write the \(what) to \(path): \(String(cString: strerror(errno)))")
    }
    let bytes = Array(text.utf8)
    let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
    let synced = fsync(fd)
    close(fd)
    guard written == bytes.count, synced == 0, rename(temporary, path) == 0 else {
      unlink(temporary)
      throw ArbiterError(
        .failedPrecondition, "cannot write the \(what) to \(path): \(String(cString: strerror(errno)))")
    }
  }

  /// Whether `host` is a loopback address (or `localhost`): only then may a server run without
  /// required credentials.
  static func isLoopback(_ host: String) -> Bool {
    if host == "localhost" || host == "::1" { return true }
    let parts = host.split(separator: ".", omittingEmptySubsequences: false)
    return parts.count == 4 && parts[0] == "127" && parts.allSatisfy { UInt8($0) != nil }
  }

  /// Refuses to serve beyond loopback when credentials are not required, saying how to require them.
  static func checkExposure(host: String, access: AccessConfiguration) throws(ArbiterError) {
    guard !access.required, !isLoopback(host) else { return }
    throw ArbiterError(
      .failedPrecondition,
      """
      refusing to serve on \(host) without credentials: access.required is false, so anyone who can reach \
      the port could read profiles and reload models. Set access.required: true in the configuration file \
      (the admin token made in arbiter-data/admin-token then works, or add api-keys or token-keys; see \
      docs/security.md), or bind to 127.0.0.1
      """)
  }
}
