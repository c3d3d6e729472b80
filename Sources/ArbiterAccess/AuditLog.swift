import ArbiterCore
import Dispatch
import Foundation
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// The audit log: one JSON line per admin action (a reload, a challenger set or stopped) and per
/// refused attempt at one, saying who, what, when and with what result. The file is opened for
/// appending only and never rewritten; each line is forced to disk before the action is
/// answered. The newest entries are also kept in memory.
public final class AuditLog: Sendable {
  /// One audited action.
  public struct Entry: Sendable, Equatable {
    /// When it was asked for.
    public var time: Date
    /// Who asked: the principal's name, or nil when credentials are not required.
    public var who: String?
    /// How they proved it: `api-key`, `token`, `session`, or nil.
    public var credential: String?
    /// The door it came through: `grpc`, `lean` or `http`.
    public var door: String
    /// The method, e.g. `arbiter.v1.AdminService/Reload`.
    public var action: String
    /// What it acted on (a bundle path, at most 200 characters), or empty.
    public var target: String
    /// `OK`, or the refusal's or failure's status code name (e.g. `PERMISSION_DENIED`).
    public var result: String
    /// Why it failed; empty when it did not.
    public var message: String

    /// An entry; `principal` names who asked.
    public init(
      time: Date = Date(), principal: Principal?, door: String, action: String, target: String = "",
      result: String, message: String = ""
    ) {
      self.time = time
      who = principal?.name
      credential = principal.map { Self.credentialName($0.credential) }
      self.door = door
      self.action = action
      self.target = target.count <= 200 ? target : "\(target.prefix(200))… (\(target.count) characters)"
      self.result = result
      self.message = message.count <= 1_000 ? message : String(message.prefix(1_000)) + "…"
    }

    static func credentialName(_ credential: Principal.Credential) -> String {
      switch credential {
      case .apiKey: return "api-key"
      case .token: return "token"
      case .session: return "session"
      }
    }

    /// The entry as its JSON line (keys sorted, no trailing newline).
    public var jsonLine: String {
      var object: [String: Any] = [
        "time": Date.ISO8601FormatStyle(includingFractionalSeconds: true).format(time), "door": door, "action": action,
        "result": result,
      ]
      object["who"] = who ?? NSNull()
      object["credential"] = credential ?? NSNull()
      if !target.isEmpty { object["target"] = target }
      if !message.isEmpty { object["message"] = message }
      let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]))
      return data.map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }
  }

  /// The file, or nil for a log kept in memory only.
  public let path: String?
  private let descriptor: Int32
  private let queue = DispatchQueue(label: "arbiter.audit-log")
  private let newest = Mutex<[Entry]>([])
  private let failures = Atomic<Int>(0)
  /// How many entries are kept in memory.
  static let memory = 1_000

  /// A log appending to `path` (made, with its directory, readable by its owner only); nil keeps
  /// the entries in memory only. A file that cannot be opened is refused naming it.
  public init(path: String?) throws(ArbiterError) {
    self.path = path
    guard let path else {
      descriptor = -1
      return
    }
    let directory = (path as NSString).deletingLastPathComponent
    if !directory.isEmpty {
      try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }
    let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
    guard fd >= 0 else {
      throw ArbiterError(.failedPrecondition, "cannot open the audit log \(path): \(String(cString: strerror(errno)))")
    }
    descriptor = fd
  }

  deinit { if descriptor >= 0 { close(descriptor) } }

  /// Appends `entry` and returns once it is on disk (call it off the event loops).
  public func record(_ entry: Entry) {
    queue.sync { write(entry) }
  }

  /// Appends `entry` without waiting (for a refusal answered on an event loop).
  public func recordLater(_ entry: Entry) {
    queue.async { self.write(entry) }
  }

  /// How many entries could not be written to the file (each is also in memory, and logged by
  /// the caller's logger when it waits).
  public var writeFailures: Int { failures.load(ordering: .relaxed) }

  /// The newest entries in memory, oldest first (waits for those being written).
  public var entries: [Entry] {
    queue.sync {}
    return newest.withLock { $0 }
  }

  private func write(_ entry: Entry) {
    newest.withLock { kept in
      if kept.count >= Self.memory { kept.removeFirst(kept.count - Self.memory + 1) }
      kept.append(entry)
    }
    guard descriptor >= 0 else { return }
    let bytes = Array((entry.jsonLine + "\n").utf8)
    var offset = 0
    while offset < bytes.count {
      let written = bytes[offset...].withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
      if written < 0 {
        if errno == EINTR { continue }
        failures.add(1, ordering: .relaxed)
        return
      }
      offset += written
    }
    if fsync(descriptor) != 0 { failures.add(1, ordering: .relaxed) }
  }
}

extension Principal {
  /// The caller of the request being handled, set by a door's access check for the service
  /// methods it calls (the gRPC interceptor), so that they can audit who acted.
  @TaskLocal public static var current: Principal?
}
