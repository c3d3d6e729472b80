import ArbiterDecisioning
import ServiceLifecycle

/// Writes the interaction log's buffered decision lines every `interval`, so that a
/// quiet server's decisions reach the file (and readers of it) promptly and a crash loses at most
/// that interval's. A busy server writes whenever 64 KiB are buffered anyway.
struct LogFlushService: Service {
  let log: InteractionLog
  let interval: Duration

  func run() async throws {
    await everyInterval(interval) { log.flush() }
  }
}
