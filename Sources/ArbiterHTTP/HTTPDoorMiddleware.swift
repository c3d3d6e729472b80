import ArbiterAccess
import ArbiterCore
import Atomics
import Foundation
import GRPCCore
import HTTPTypes
import Hummingbird

/// Gives every request an id — the caller's `X-Request-Id` when it is a sane one, else one made
/// here — and echoes it on the response, errors included.
struct RequestIDMiddleware: RouterMiddleware {
  typealias Context = ArbiterRequestContext
  private static let counter = ManagedAtomic<UInt64>(0)
  private static let prefix = String(UInt32.random(in: .min ... .max), radix: 36)
  static let header = HTTPField.Name("X-Request-Id")!

  func handle(
    _ request: Request, context: ArbiterRequestContext,
    next: (Request, ArbiterRequestContext) async throws -> Response
  ) async throws -> Response {
    var context = context
    context.requestId = Self.requestId(given: request.headers[Self.header])
    do {
      var response = try await next(request, context)
      response.headers[Self.header] = context.requestId
      return response
    } catch let error as any HTTPResponseError {
      var response = try error.response(from: request, context: context)
      response.headers[Self.header] = context.requestId
      return response
    }
  }

  /// The request's id: the caller's when it is 1–128 visible ASCII characters, else a new one.
  static func requestId(given: String?) -> String {
    if let given, (1...128).contains(given.utf8.count), given.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) {
      return given
    }
    return "h-\(prefix)-\(counter.wrappingIncrementThenLoad(ordering: .relaxed))"
  }
}

/// Cross-origin calls from the configured origins: their preflight requests are answered here,
/// and their responses carry `Access-Control-Allow-Origin`. Other origins get no CORS headers
/// (the browser then refuses the response); the server's own pages are same-origin.
struct CORSPolicyMiddleware: RouterMiddleware {
  typealias Context = ArbiterRequestContext
  let origins: Set<String>

  func handle(
    _ request: Request, context: ArbiterRequestContext,
    next: (Request, ArbiterRequestContext) async throws -> Response
  ) async throws -> Response {
    guard let origin = request.headers[.origin], origins.contains(origin) else {
      return try await next(request, context)
    }
    if request.method == .options, request.headers[.accessControlRequestMethod] != nil {
      var headers = HTTPFields()
      headers[.accessControlAllowOrigin] = origin
      headers[.accessControlAllowMethods] = "GET, POST, OPTIONS"
      headers[.accessControlAllowHeaders] = "Authorization, Content-Type, X-Request-Id, X-Server-Timeout"
      headers[.accessControlMaxAge] = "600"
      headers[.vary] = "Origin"
      return Response(status: .noContent, headers: headers)
    }
    var response: Response
    do { response = try await next(request, context) } catch let error as any HTTPResponseError {
      response = try error.response(from: request, context: context)
    }
    for (name, value) in Self.responseHeaders(origin: origin) { response.headers[name] = value }
    return response
  }

  /// What a response to an allowed origin's request carries.
  static func responseHeaders(origin: String) -> [(HTTPField.Name, String)] {
    [(.accessControlAllowOrigin, origin), (.accessControlExposeHeaders, "X-Request-Id"), (.vary, "Origin")]
  }
}

/// Every error as JSON (``HTTPAPIError``): Hummingbird's own (no route, a body over the limit)
/// and anything unexpected, which is logged and answered INTERNAL without crashing.
struct JSONErrorMiddleware: RouterMiddleware {
  typealias Context = ArbiterRequestContext
  /// The methods a path is served with, nil for a path not served: 405 (with `Allow`) or 404.
  let allowedMethods: @Sendable (String) -> String?

  func handle(
    _ request: Request, context: ArbiterRequestContext,
    next: (Request, ArbiterRequestContext) async throws -> Response
  ) async throws -> Response {
    do {
      return try await next(request, context)
    } catch let error as HTTPAPIError {
      throw error
    } catch let error as any HTTPResponseError {
      switch error.status {
      case .notFound where allowedMethods(request.uri.path) != nil:
        var refusal = HTTPAPIError(
          .unimplemented, "\(request.method.rawValue) is not served at \(request.uri.path)", status: .methodNotAllowed)
        refusal.allow = allowedMethods(request.uri.path)
        throw refusal
      case .notFound:
        throw HTTPAPIError(.notFound, "no such path: \(request.uri.path)")
      case .contentTooLarge:
        throw HTTPAPIError.bodyOverLimit
      default:
        throw HTTPAPIError(
          .invalidArgument, "\(error.status.reasonPhrase) (\(error.status.code))", status: error.status)
      }
    } catch {
      context.logger.error("HTTP request failed", metadata: ["path": "\(request.uri.path)", "error": "\(error)"])
      throw HTTPAPIError(.internalError, "the server could not answer: \(error)")
    }
  }
}

/// The HTTP door's access check: the `Authorization` header's credential against the role the
/// route needs (``HTTPAPI/routes``), before the route runs. Pages, the snippet, `/health` and
/// `/openapi.json` are open to all. Refusals are JSON: 401 UNAUTHENTICATED, 403 PERMISSION_DENIED.
struct AccessMiddleware: RouterMiddleware {
  typealias Context = ArbiterRequestContext
  let authenticator: Authenticator

  func handle(
    _ request: Request, context: ArbiterRequestContext,
    next: (Request, ArbiterRequestContext) async throws -> Response
  ) async throws -> Response {
    var context = context
    if authenticator.required, let route = context.route, let role = HTTPAPI.routes[route].role {
      do throws(ArbiterError) {
        context.principal = try await authenticator.authorize(
          authorization: request.headers[.authorization], cookie: request.headers[.cookie], needs: role,
          for: "\(request.method.rawValue) \(request.uri.path)")
      } catch {
        throw HTTPAPIError(error)
      }
    }
    return try await next(request, context)
  }
}
