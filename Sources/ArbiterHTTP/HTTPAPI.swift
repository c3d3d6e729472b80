import ArbiterAPI
import ArbiterContactCentre
import ArbiterCore
import ArbiterDecisioning
import ArbiterService
import Dispatch
import Foundation
import GRPCCore
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import SwiftProtobuf

/// The HTTP/JSON door's API (docs/http-api.md): the same services as gRPC, bodies in protobuf's
/// canonical JSON, errors as JSON with the gRPC code and its HTTP status. This is the door's one
/// mapping layer: HTTP requests become the services' messages here, once.
public struct HTTPAPI: Sendable {
  let live: LiveState
  let decisions: DecisionService
  let profiles: ProfileService
  let admin: AdminService
  let health: HealthService
  let echo: Arbiter_V1_DecideResponse
  let contactCentre: CallDistributor
  let configuration: HTTPDoorConfiguration
  let logger: Logger

  /// The API over `live`; `echo` answers the no-op baseline, `contactCentre` distributes calls.
  public init(
    live: LiveState, health: HealthService, echo: Arbiter_V1_DecideResponse, contactCentre: CallDistributor,
    configuration: HTTPDoorConfiguration, logger: Logger
  ) {
    self.live = live
    decisions = DecisionService(live: live)
    profiles = ProfileService(live: live)
    admin = AdminService(live: live, logger: logger)
    self.health = health
    self.echo = echo
    self.contactCentre = contactCentre
    self.configuration = configuration
    self.logger = logger
  }

  /// The paths the API serves (with some method), as route patterns.
  static let routes = [
    "/v1/decide", "/v1/personalize", "/v1/outcomes", "/v1/customers/*/profile", "/v1/status", "/health",
    "/v1/benchmark/echo", "/v1/callbacks", "/v1/calls", "/v1/contact-centre", "/v1/agents/*/events",
    "/v1/agents/*/state", "/v1/dashboard", "/openapi.json",
  ]

  /// Whether `path` is one of ``routes``.
  static func isKnownPath(_ path: String) -> Bool {
    let parts = path.split(separator: "/", omittingEmptySubsequences: false)
    return routes.contains { route in
      let pattern = route.split(separator: "/", omittingEmptySubsequences: false)
      return pattern.count == parts.count && zip(pattern, parts).allSatisfy { $0 == "*" || $0 == $1 }
    }
  }

  /// The router: the API's routes, the pages from `webRoot`, and the door's middleware.
  public func router(webRoot: String?) -> Router<ArbiterRequestContext> {
    let router = Router(context: ArbiterRequestContext.self)
    router.add(middleware: RequestIDMiddleware())
    router.add(middleware: CORSPolicyMiddleware(origins: Set(configuration.corsOrigins)))
    router.add(middleware: JSONErrorMiddleware(isKnownPath: Self.isKnownPath))
    if let webRoot {
      // Revalidated on every load (ETag), so a new server's pages are never stale.
      let cache = CacheControl([(MediaType(type: .any), [CacheControl.Value.noCache])])
      router.add(middleware: FileMiddleware(webRoot, cacheControl: cache, searchForIndexHtml: true))
    }
    addDecisionRoutes(to: router)
    addProfileAndAdminRoutes(to: router, webRoot: webRoot)
    addContactCentreRoutes(to: router)
    addDashboardRoute(to: router)
    return router
  }

  // MARK: decisions

  private func addDecisionRoutes(to router: Router<ArbiterRequestContext>) {
    router.post("/v1/decide") { request, context in
      let started = DispatchTime.now().uptimeNanoseconds
      var message = try await body(Arbiter_V1_DecideRequest.self, of: request)
      if message.requestID.isEmpty { message.requestID = context.requestId }
      let answer = try mapping { () throws(ArbiterError) in try decisions.decision(for: message).proto }
      let response = try json(answer)
      live.traffic.record(.http, nanos: DispatchTime.now().uptimeNanoseconds - started)
      return response
    }
    router.post("/v1/personalize") { request, context in
      let started = DispatchTime.now().uptimeNanoseconds
      var message = try await body(Arbiter_V1_PersonalizeRequest.self, of: request)
      if message.requestID.isEmpty { message.requestID = context.requestId }
      let answer = try mapping { () throws(ArbiterError) in try decisions.personalize(message) }
      let response = try json(answer)
      live.traffic.record(.http, nanos: DispatchTime.now().uptimeNanoseconds - started)
      return response
    }
    router.post("/v1/outcomes") { request, _ in
      let message = try await body(Arbiter_V1_RecordOutcomesRequest.self, of: request)
      // Off the event loops and the concurrency pool: it waits for its lines to be written.
      return try json(try await offloaded { () throws(ArbiterError) in try decisions.recordOutcomes(message) })
    }
    router.post("/v1/benchmark/echo") { request, _ in
      _ = try await body(Arbiter_V1_DecideRequest.self, of: request)
      return try json(echo)
    }
  }

  // MARK: profiles, status, health, the OpenAPI document

  private func addProfileAndAdminRoutes(to router: Router<ArbiterRequestContext>, webRoot: String?) {
    router.get("/v1/customers/:customerId/profile") { request, context in
      let text = context.parameters.get("customerId") ?? ""
      guard let id = UInt64(text), id > 0 else {
        throw HTTPAPIError(.invalidArgument, "customerId: '\(text)' is not a customer id (a positive whole number)")
      }
      var message = Arbiter_V1_GetProfileRequest()
      message.customerID = id
      if let limit = request.uri.queryParameters["maxInteractions"] {
        guard let n = UInt32(limit), n <= 1_000 else {
          throw HTTPAPIError(.invalidArgument, "maxInteractions: '\(limit)' is not a whole number from 0 to 1000")
        }
        message.maxInteractions = n
      }
      return try json(try mapping { () throws(ArbiterError) in try profiles.profile(message) })
    }
    router.get("/v1/status") { _, _ in try json(admin.status()) }
    router.get("/health") { _, _ in
      let context = ServerContext(
        descriptor: Grpc_Health_V1_Health.Method.Check.descriptor, remotePeer: "http", localPeer: "http",
        cancellation: ServerContext.RPCCancellationHandle())
      let status = try await health.check(request: .init(), context: context)
      var response = try json(status)
      if status.status != .serving { response.status = .serviceUnavailable }
      return response
    }
    let openAPI = webRoot.flatMap { FileManager.default.contents(atPath: $0 + "/openapi.json") }
    router.get("/openapi.json") { _, _ in
      guard let openAPI else { throw HTTPAPIError(.unavailable, "the OpenAPI document is not installed") }
      return Self.response(bytes: [UInt8](openAPI))
    }
    router.get("/") { _, _ in Response.redirect(to: "/site/home.html") }
    router.get("/console") { _, _ in Response.redirect(to: "/console/") }
    router.get("/dashboard") { _, _ in Response.redirect(to: "/dashboard/") }
  }

  // MARK: helpers

  /// The request's body as a message, within the size limit. The body is JSON whatever the type
  /// says as long as it is JSON or plain text (a beacon's, or a CORS simple request's); other
  /// types (a form) are refused.
  func body<M: Message>(_ type: M.Type, of request: Request) async throws -> M {
    if let contentType = request.headers[.contentType]?.lowercased(), !contentType.contains("json"),
      !contentType.hasPrefix("text/plain")
    {
      throw HTTPAPIError(
        .invalidArgument, "Content-Type must be application/json, got '\(contentType)'", status: .unsupportedMediaType)
    }
    let buffer = try await request.body.collect(upTo: configuration.maxBodyBytes)
    return try ProtoJSON.decode(M.self, from: Array(buffer.readableBytesView))
  }

  /// A 200 response with the message as JSON.
  func json(_ message: some Message) throws(HTTPAPIError) -> Response {
    Self.response(bytes: try ProtoJSON.encode(message))
  }

  static func response(bytes: [UInt8], status: HTTPResponse.Status = .ok) -> Response {
    var headers = HTTPFields()
    headers[.contentType] = "application/json"
    return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
  }

  /// Runs a domain operation, its error mapped to the door's.
  func mapping<T>(_ body: () throws(ArbiterError) -> T) throws(HTTPAPIError) -> T {
    do { return try body() } catch { throw HTTPAPIError(error) }
  }

  /// Runs blocking work (that waits for the disk) on a Dispatch worker thread, its error mapped.
  func offloaded<T: Sendable>(_ body: @escaping @Sendable () throws(ArbiterError) -> T) async throws -> T {
    let result: Result<T, ArbiterError> = await withCheckedContinuation { continuation in
      DispatchQueue.global().async {
        do throws(ArbiterError) { continuation.resume(returning: .success(try body())) } catch {
          continuation.resume(returning: .failure(error))
        }
      }
    }
    switch result {
    case .success(let value): return value
    case .failure(let error): throw HTTPAPIError(error)
    }
  }
}
