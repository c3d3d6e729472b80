import ServiceLifecycle

/// Runs `body` every `interval` seconds until the service group shuts down gracefully (or the
/// task is cancelled); a shutdown during the wait ends it without one more run.
func everyInterval(_ interval: Double, _ body: () async -> Void) async {
  while !Task.isCancelled && !Task.isShuttingDownGracefully {
    do { try await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(interval)) } } catch { return }
    if Task.isShuttingDownGracefully { return }
    await body()
  }
}
