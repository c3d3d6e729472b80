import ArbiterAccess
import Hummingbird
import Logging
import NIOCore

/// The request context of the HTTP door: Hummingbird's own, and the request's id, set by
/// ``RequestIDMiddleware`` before any route runs.
public struct ArbiterRequestContext: RequestContext {
  /// Hummingbird's per-request storage.
  public var coreContext: CoreRequestContextStorage
  /// The request's id: the caller's `X-Request-Id`, or one the server made.
  public var requestId = ""
  /// The index in ``HTTPAPI/routes`` of the route its path matches (nil: a page or file), looked
  /// up once by ``RouteMiddleware`` for every middleware after it.
  var route: Int?
  /// Who is asking, once ``AccessMiddleware`` has checked their credential (nil without one, or
  /// when credentials are not required); for the audit log.
  var principal: Principal?

  /// A context for a request arriving on a channel.
  public init(source: ApplicationRequestContextSource) {
    coreContext = .init(source: source)
  }
}
