import ArbiterCore
import ArbiterDecisioning
import Foundation
import Logging
import ServiceLifecycle

#if canImport(Glibc)
  import Glibc
#endif

/// Where quota and capacity use is kept across restarts: `pacing.json` in the feature store's
/// directory, replaced atomically (written to a temporary file, synced, renamed, the directory
/// synced), so that a crash leaves the previous or the new checkpoint, never a torn one.
struct PacingCheckpointFile: Sendable {
  static let fileName = "pacing.json"
  let path: String

  init(storeDirectory: String) { path = storeDirectory + "/" + Self.fileName }

  /// The checkpoint written last, or nil when there is none; a damaged one is refused naming it.
  func read() throws(ArbiterError) -> PacingCheckpoint? {
    guard FileManager.default.fileExists(atPath: path) else { return nil }
    do {
      let data = try Data(contentsOf: URL(fileURLWithPath: path))
      return try JSONDecoder().decode(PacingCheckpoint.self, from: data)
    } catch {
      throw ArbiterError(
        .dataCorrupted, "\(path): not a pacing checkpoint (\(error)); remove it to start quotas from zero")
    }
  }

  /// Replaces the checkpoint with `checkpoint`, durably.
  func write(_ checkpoint: PacingCheckpoint) throws(ArbiterError) {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    let data: Data
    do { data = try encoder.encode(checkpoint) } catch {
      throw ArbiterError(.failedPrecondition, "cannot encode the pacing checkpoint \(path): \(error)")
    }
    try DurableFile.replace(path, with: data, what: "the pacing checkpoint")
  }
}

/// Writes quota and capacity use every `interval` when it changed, off the request path,
/// so that a restart (even after `kill -9`) cannot spend a period's quota twice; at most the last
/// interval's use is lost in a crash, as with the interaction log's decisions.
struct PacingCheckpointService: Service {
  let pacing: PacingState
  let file: PacingCheckpointFile
  let interval: Duration
  let logger: Logger

  func run() async throws {
    var written = pacing.checkpoint()
    await everyInterval(interval) {
      let now = pacing.checkpoint()
      guard now != written else { return }
      do throws(ArbiterError) {
        try file.write(now)
        written = now
      } catch {
        logger.error("cannot write the pacing checkpoint", metadata: ["error": "\(error.message)"])
      }
    }
  }
}
