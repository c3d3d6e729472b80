import ArbiterObservability
import Foundation
import HTTPTypes
import Hummingbird

/// Finds the route a request's path matches, once, for the middleware after it (access, metrics,
/// tracing, deadlines) to read from the context.
struct RouteMiddleware: RouterMiddleware {
  typealias Context = ArbiterRequestContext

  func handle(
    _ request: Request, context: ArbiterRequestContext,
    next: (Request, ArbiterRequestContext) async throws -> Response
  ) async throws -> Response {
    var context = context
    context.route = HTTPAPI.routeIndex(request.uri.path)
    return try await next(request, context)
  }
}

/// Counts every routed request by its route and HTTP status, with its latency
/// (`arbiter_requests_total{door="http"}`); paths that are no route (pages, files) count as
/// `pages`, so that a label never carries a customer id or any other unbounded value. The
/// recorders of every route and method served are made once; only a method a route is not
/// served with (answered 405) is looked up when it comes.
struct RequestMetricsMiddleware: RouterMiddleware {
  typealias Context = ArbiterRequestContext
  let metrics: RequestMetrics
  /// Per route (by index in ``HTTPAPI/routes``): its recorder for each method it is served with.
  private let byRoute: [[HTTPRequest.Method: MethodMetrics]]
  private let pages: MethodMetrics

  init(metrics: RequestMetrics) {
    self.metrics = metrics
    byRoute = HTTPAPI.routes.map { route in
      var recorders: [HTTPRequest.Method: MethodMetrics] = [:]
      for name in route.methods.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {
        guard let method = HTTPRequest.Method(name) else { continue }
        recorders[method] = metrics.method(door: "http", method: "\(name) \(route.pattern)")
      }
      return recorders
    }
    pages = metrics.method(door: "http", method: "pages")
  }

  func handle(
    _ request: Request, context: ArbiterRequestContext,
    next: (Request, ArbiterRequestContext) async throws -> Response
  ) async throws -> Response {
    let started = DispatchTime.now().uptimeNanoseconds
    let recorder: MethodMetrics
    if let route = context.route {
      recorder =
        byRoute[route][request.method]
        ?? metrics.method(door: "http", method: "\(request.method.rawValue) \(HTTPAPI.routes[route].pattern)")
    } else {
      recorder = pages
    }
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
