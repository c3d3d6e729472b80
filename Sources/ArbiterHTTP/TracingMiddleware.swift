import ArbiterObservability
import Hummingbird

/// The HTTP door's traces (when tracing is on): a span per routed request, named by its route
/// (never its path, which may carry a customer id), a child of the caller's `traceparent`, with
/// the status and (for a decision) the decision id. `POST /v1/decide` answered on the event loop
/// is traced by ``InlineDecideHandler``.
struct TracingMiddleware: RouterMiddleware {
  typealias Context = ArbiterRequestContext
  let tracing: RequestTracing

  func handle(
    _ request: Request, context: ArbiterRequestContext,
    next: (Request, ArbiterRequestContext) async throws -> Response
  ) async throws -> Response {
    let name = context.route.map { "\(request.method.rawValue) \(HTTPAPI.routes[$0].pattern)" } ?? "pages"
    let span = tracing.span(
      door: "http", method: name,
      headers: TraceHeaders(
        traceparent: request.headers[.init("traceparent")!], tracestate: request.headers[.init("tracestate")!]))
    do {
      let response = try await RequestSpan.$current.withValue(span) { try await next(request, context) }
      RequestSpan.end(span, httpStatus: response.status.code)
      return response
    } catch let error as any HTTPResponseError {
      RequestSpan.end(span, httpStatus: error.status.code)
      throw error
    } catch {
      RequestSpan.end(span, httpStatus: 500)
      throw error
    }
  }
}
