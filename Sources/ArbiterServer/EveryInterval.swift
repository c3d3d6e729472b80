import ServiceLifecycle

/// Runs `body` every `interval` until the service group shuts down gracefully (or the
/// task is cancelled); a shutdown during the wait ends it without one more run.
func everyInterval(_ interval: Duration, _ body: () async -> Void) async {
  while !Task.isCancelled && !Task.isShuttingDownGracefully {
    do { try await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) } } catch { return }
    if Task.isShuttingDownGracefully { return }
    await body()
  }
}
