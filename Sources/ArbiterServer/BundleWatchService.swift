import ArbiterDecisioning
import Logging
import ServiceLifecycle

/// Watches the bundle root and publishes a newer version when one appears (validated like a
/// reload; a failed one is reported once and the live bundle keeps serving).
struct BundleWatchService: Service {
  let live: LiveState
  let interval: Duration
  let logger: Logger

  func run() async throws {
    var watch = live.startBundleWatch()
    await everyInterval(interval) {
      switch live.checkForNewBundle(&watch) {
      case .unchanged: break
      case .published(let version): logger.notice("published a new bundle version", metadata: ["version": "\(version)"])
      case .refused(let directory, let reason):
        logger.error(
          "refused a new bundle version; the live one keeps serving",
          metadata: ["directory": "\(directory)", "reason": "\(reason)"])
      }
    }
  }
}
