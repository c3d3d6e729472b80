import ArbiterCore
import ArbiterDecisioning
import Foundation
import Logging
import ServiceLifecycle

/// Keeps the adaptive models learning and durable, off the request path: every
/// `sweepInterval`, the offers whose response window closed without an outcome are learnt as no
/// response; every `snapshotInterval` (and at shutdown), the models are written to `file`
/// (atomically: a temporary file renamed), with how much of the interaction log they include.
struct AdaptiveService: Service {
  let live: LiveState
  let file: AdaptiveSnapshotStore
  let sweepInterval: Duration
  let snapshotInterval: Duration
  let logger: Logger

  func run() async throws {
    var sinceSnapshot = Duration.zero
    await everyInterval(sweepInterval) {
      let live = self.live
      await Task.detached(priority: .utility) {
        live.expireAdaptive(nowMillis: Int64(Date().timeIntervalSince1970 * 1_000))
      }.value
      sinceSnapshot += sweepInterval
      if sinceSnapshot >= snapshotInterval {
        sinceSnapshot = .zero
        await write()
      }
    }
    await write()
  }

  private func write() async {
    let live = self.live, file = self.file
    let failure = await Task.detached(priority: .utility) { () -> ArbiterError? in
      guard let snapshot = live.adaptiveSnapshot(nowMillis: Int64(Date().timeIntervalSince1970 * 1_000)) else {
        return nil
      }
      do { try file.write(snapshot) } catch let error as ArbiterError { return error } catch {
        return ArbiterError(.internalError, "\(error)")
      }
      return nil
    }.value
    if let failure {
      logger.error("adaptive snapshot failed; the log keeps every outcome", metadata: ["error": "\(failure.message)"])
    }
  }
}

/// The adaptive models' snapshot file.
public struct AdaptiveSnapshotStore: Sendable {
  /// The file.
  public let path: String

  /// The store at `path`.
  public init(path: String) { self.path = path }

  /// Writes `snapshot` durably (see ``DurableFile``).
  public func write(_ snapshot: AdaptiveSnapshotFile) throws(ArbiterError) {
    let data: Data
    do { data = try JSONEncoder().encode(snapshot) } catch {
      throw ArbiterError(.internalError, "\(path): the adaptive snapshot cannot be encoded (\(error))")
    }
    try DurableFile.replace(path, with: data, what: "the adaptive snapshot")
  }

  /// The snapshot at `path`, nil when there is none; throws naming the file when it is not one.
  public func read() throws(ArbiterError) -> AdaptiveSnapshotFile? {
    guard let data = FileManager.default.contents(atPath: path) else { return nil }
    do { return try JSONDecoder().decode(AdaptiveSnapshotFile.self, from: data) } catch {
      throw ArbiterError(.dataCorrupted, "\(path): not an adaptive snapshot (\(error))")
    }
  }
}
