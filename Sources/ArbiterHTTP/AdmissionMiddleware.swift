import ArbiterObservability
import Hummingbird

/// The HTTP door's bound on work in flight, for routed requests: past ``InFlightLimit/limit`` a
/// request is answered 429 (RESOURCE_EXHAUSTED, naming the limit) at once, before the access
/// check or any work. An event stream holds its place only while it is set up.
/// (`POST /v1/decide`, answered on the event loop, is bounded in ``InlineDecideHandler``.)
struct AdmissionMiddleware: RouterMiddleware {
  typealias Context = ArbiterRequestContext
  let limit: InFlightLimit

  func handle(
    _ request: Request, context: ArbiterRequestContext,
    next: (Request, ArbiterRequestContext) async throws -> Response
  ) async throws -> Response {
    guard limit.admit() else { throw HTTPAPIError(.resourceExhausted, limit.refusalMessage) }
    defer { limit.release() }
    return try await next(request, context)
  }
}
