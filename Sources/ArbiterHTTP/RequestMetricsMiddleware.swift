import ArbiterObservability
import Foundation
import Hummingbird

/// Counts every routed request by its route and HTTP status, with its latency
/// (`arbiter_requests_total{door="http"}`); paths that are no route (pages, files) count as
/// `pages`, so that a label never carries a customer id or any other unbounded value.
struct RequestMetricsMiddleware: RouterMiddleware {
  typealias Context = ArbiterRequestContext
  let metrics: RequestMetrics

  func handle(
    _ request: Request, context: ArbiterRequestContext,
    next: (Request, ArbiterRequestContext) async throws -> Response
  ) async throws -> Response {
    let started = DispatchTime.now().uptimeNanoseconds
    let name = HTTPAPI.route(request.uri.path).map { "\(request.method.rawValue) \($0.pattern)" } ?? "pages"
    let recorder = metrics.method(door: "http", method: name)
    do {
      let response = try await next(request, context)
      recorder.record(httpStatus: response.status.code, nanoseconds: DispatchTime.now().uptimeNanoseconds &- started)
      return response
    } catch let error as any HTTPResponseError {
      recorder.record(httpStatus: error.status.code, nanoseconds: DispatchTime.now().uptimeNanoseconds &- started)
      throw error
    } catch {
      recorder.record(httpStatus: 500, nanoseconds: DispatchTime.now().uptimeNanoseconds &- started)
      throw error
    }
  }
}
