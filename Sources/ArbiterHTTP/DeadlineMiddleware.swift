import ArbiterCore
import Dispatch
import HTTPTypes
import Hummingbird

/// The HTTP door's deadlines: a request's `X-Server-Timeout` (seconds, e.g. `0.25`) sets when
/// it must be answered, counted from when the router takes it. A timeout of 0 is already past:
/// the request is answered 504 (DEADLINE_EXCEEDED) before any work; one that is not a number is
/// answered 400 naming the header. The deadline is carried into the decision
/// (``CallDeadline/current``), whose budget it bounds (the SLA fallback). `POST /v1/decide`,
/// answered on the event loop, reads it in ``InlineDecideHandler``.
struct DeadlineMiddleware: RouterMiddleware {
  typealias Context = ArbiterRequestContext

  /// The header, as Google's HTTP APIs name it.
  static let header = HTTPField.Name("X-Server-Timeout")!

  func handle(
    _ request: Request, context: ArbiterRequestContext,
    next: (Request, ArbiterRequestContext) async throws -> Response
  ) async throws -> Response {
    // A method the path is not served with is answered 405 whatever its deadline.
    guard let text = request.headers[Self.header],
      context.route.map({ HTTPAPI.serves($0, method: request.method.rawValue) }) ?? true
    else { return try await next(request, context) }
    let deadline = try Self.deadline(header: text, from: DispatchTime.now().uptimeNanoseconds)
    return try await CallDeadline.$current.withValue(deadline) { try await next(request, context) }
  }

  /// The deadline an `X-Server-Timeout` header sets for a request that arrived at `arrival`;
  /// throws 400 for a header that is not a timeout, 504 for one already past.
  static func deadline(header text: String, from arrival: UInt64) throws(HTTPAPIError) -> UInt64 {
    guard let nanoseconds = CallDeadline.nanoseconds(serverTimeout: text) else {
      throw HTTPAPIError(
        .invalidArgument, "X-Server-Timeout: '\(text.prefix(32))' is not a number of seconds such as 0.25")
    }
    guard nanoseconds > 0, arrival &+ nanoseconds > DispatchTime.now().uptimeNanoseconds else {
      throw HTTPAPIError(.deadlineExceeded, "the deadline (X-Server-Timeout \(text)) passed before the request started")
    }
    return nanoseconds == .max ? .max : arrival &+ nanoseconds
  }
}
