import ArbiterAPI
import GRPCCore
import Synchronization

/// The standard `grpc.health.v1.Health` service. The server (service "") and each Arbiter
/// service report SERVING until shutdown begins, then NOT_SERVING; watchers are told and their
/// streams end.
public final class HealthService: Grpc_Health_V1_Health.SimpleServiceProtocol, Sendable {
  /// The services health is reported for ("" is the server as a whole).
  public static let services = [
    "", "arbiter.v1.DecisionService", "arbiter.v1.ProfileService", "arbiter.v1.AdminService",
  ]

  private struct State {
    var serving = true
    var watchers: [Int: AsyncStream<Bool>.Continuation] = [:]
    var nextWatcher = 0
  }
  private let state = Mutex(State())

  /// A health service reporting every service as serving.
  public init() {}

  /// Marks every service NOT_SERVING and ends all watch streams.
  public func beginShutdown() {
    let watchers = state.withLock { state in
      state.serving = false
      defer { state.watchers = [:] }
      return Array(state.watchers.values)
    }
    for watcher in watchers {
      watcher.yield(false)
      watcher.finish()
    }
  }

  private func status(serving: Bool) -> Grpc_Health_V1_HealthCheckResponse {
    .with { $0.status = serving ? .serving : .notServing }
  }

  /// `Check`: the named service's status; NOT_FOUND for a service this server does not have.
  public func check(
    request: Grpc_Health_V1_HealthCheckRequest, context: ServerContext
  ) async throws -> Grpc_Health_V1_HealthCheckResponse {
    guard Self.services.contains(request.service) else {
      throw RPCError(code: .notFound, message: "unknown service '\(request.service)'")
    }
    return status(serving: state.withLock { $0.serving })
  }

  /// `List`: every service and its status.
  public func list(
    request: Grpc_Health_V1_HealthListRequest, context: ServerContext
  ) async throws -> Grpc_Health_V1_HealthListResponse {
    let serving = state.withLock { $0.serving }
    return .with { response in
      for service in Self.services { response.statuses[service] = status(serving: serving) }
    }
  }

  /// `Watch`: the service's status now and each time it changes, until the call ends.
  public func watch(
    request: Grpc_Health_V1_HealthCheckRequest, response: RPCWriter<Grpc_Health_V1_HealthCheckResponse>,
    context: ServerContext
  ) async throws {
    guard Self.services.contains(request.service) else {
      try await response.write(.with { $0.status = .serviceUnknown })
      return
    }
    let (stream, continuation) = AsyncStream<Bool>.makeStream()
    let (serving, id) = state.withLock { state in
      let id = state.nextWatcher
      state.nextWatcher += 1
      if state.serving { state.watchers[id] = continuation }
      return (state.serving, id)
    }
    try await response.write(status(serving: serving))
    guard serving else { return }
    try await withTaskCancellationHandler {
      for await update in stream { try await response.write(status(serving: update)) }
    } onCancel: {
      let watcher = state.withLock { $0.watchers.removeValue(forKey: id) }
      watcher?.finish()
    }
  }
}
