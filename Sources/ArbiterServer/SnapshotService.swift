import ArbiterCore
import ArbiterFeatureStore
import Logging
import ServiceLifecycle

/// Takes a snapshot of the feature store every `interval`, off the request path, and
/// compacts the log behind it.
struct SnapshotService: Service {
  let store: FeatureStore
  let interval: Duration
  let logger: Logger

  func run() async throws {
    await everyInterval(interval) {
      let store = self.store
      let result = await Task.detached(priority: .utility) { () -> Result<SnapshotReport, ArbiterError> in
        do { return .success(try store.writeSnapshot()) } catch let error as ArbiterError {
          return .failure(error)
        } catch { return .failure(ArbiterError(.internalError, "\(error)")) }
      }.value
      switch result {
      case .success(let report):
        logger.info(
          "snapshot written",
          metadata: [
            "rows": "\(report.rows)", "bytes": "\(report.bytes)", "seconds": "\(report.seconds)",
            "removedLogSegments": "\(report.removedSegments)",
          ])
      case .failure(let error):
        logger.error("snapshot failed; the log keeps every update", metadata: ["error": "\(error.message)"])
      }
    }
  }
}
