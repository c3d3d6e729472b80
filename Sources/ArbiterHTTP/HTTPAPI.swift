import ArbiterAPI
import ArbiterAccess
import ArbiterContactCentre
import ArbiterCore
import ArbiterDecisioning
import ArbiterObservability
import ArbiterService
import Dispatch
import Foundation
import GRPCCore
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import SwiftProtobuf
import Tracing

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
  /// The no-op baseline's answer, encoded once (as the lean door's is).
  let echoAnswer: [UInt8]
  let contactCentre: CallDistributor
  let configuration: HTTPDoorConfiguration
  let logger: Logger
  /// Checks each request's credential against the role its route needs.
  let authenticator: Authenticator
  /// The key (`decide` only) the demo site's pages give the web snippet; nil gives none.
  let siteKey: String?
  /// Requests by route and status, rendered at `/metrics` with the rest of the server's metrics.
  let metrics: ServerMetrics?
  /// A span per request, when tracing is on.
  let tracing: RequestTracing?

  /// The API over `live`; `echo` answers the no-op baseline, `contactCentre` distributes calls;
  /// the site's pages carry `siteKey` for the snippet; requests are counted in `metrics` and
  /// traced by `tracing` when given.
  public init(
    live: LiveState, health: HealthService, echo: Arbiter_V1_DecideResponse, contactCentre: CallDistributor,
    configuration: HTTPDoorConfiguration, authenticator: Authenticator, siteKey: String? = nil,
    metrics: ServerMetrics? = nil, tracing: RequestTracing? = nil, logger: Logger
  ) {
    self.tracing = tracing
    self.authenticator = authenticator
    self.siteKey = siteKey
    self.metrics = metrics
    self.live = live
    decisions = DecisionService(live: live)
    profiles = ProfileService(live: live)
    admin = AdminService(live: live, logger: logger)
    self.health = health
    self.echo = echo
    echoAnswer = (try? echo.jsonUTF8Bytes()) ?? Array("{}".utf8)
    self.contactCentre = contactCentre
    self.configuration = configuration
    self.logger = logger
  }

  /// The paths the API serves, as route patterns, with their methods and the role they need: the
  /// role of the RPC a route maps to (``MethodRoles``), `decide` for the contact centre's (the
  /// website's call-back, the telephony system's calls, the agents' consoles), `admin` for the
  /// dashboard; nil for those open to all.
  static let routes: [(pattern: String, methods: String, role: Role?)] = [
    ("/v1/decide", "POST", MethodRoles.role(for: Arbiter_V1_DecisionService.Method.Decide.descriptor)),
    ("/v1/personalize", "POST", MethodRoles.role(for: Arbiter_V1_DecisionService.Method.Personalize.descriptor)),
    ("/v1/outcomes", "POST", MethodRoles.role(for: Arbiter_V1_DecisionService.Method.RecordOutcomes.descriptor)),
    ("/v1/customers/*/profile", "GET", MethodRoles.role(for: Arbiter_V1_ProfileService.Method.GetProfile.descriptor)),
    ("/v1/consents", "POST", MethodRoles.role(for: Arbiter_V1_ProfileService.Method.RecordConsents.descriptor)),
    ("/v1/customers/*", "DELETE", MethodRoles.role(for: Arbiter_V1_AdminService.Method.EraseCustomer.descriptor)),
    ("/v1/status", "GET", MethodRoles.role(for: Arbiter_V1_AdminService.Method.GetStatus.descriptor)),
    ("/health", "GET", nil),
    ("/v1/benchmark/echo", "POST", MethodRoles.role(for: Arbiter_V1_BenchmarkService.Method.Echo.descriptor)),
    ("/v1/callbacks", "POST", .decide), ("/v1/calls", "POST", .decide), ("/v1/contact-centre", "GET", .decide),
    ("/v1/agents/*/events", "GET", .decide), ("/v1/agents/*/state", "POST", .decide), ("/v1/dashboard", "GET", .admin),
    ("/openapi.json", "GET", nil), ("/v1/session", "GET, POST, DELETE", nil), ("/metrics", "GET", .admin),
  ]

  /// The route `path` matches, if any.
  static func route(_ path: String) -> (pattern: String, methods: String, role: Role?)? {
    routeIndex(path).map { routes[$0] }
  }

  /// The routes' patterns split at their slashes, once.
  private static let routeParts = routes.map { $0.pattern.split(separator: "/", omittingEmptySubsequences: false) }

  /// The index in ``routes`` of the route `path` matches, if any.
  static func routeIndex(_ path: String) -> Int? {
    let parts = path.split(separator: "/", omittingEmptySubsequences: false)
    return routeParts.firstIndex { pattern in
      pattern.count == parts.count && zip(pattern, parts).allSatisfy { $0 == "*" || $0 == $1 }
    }
  }

  /// Whether route `index` is served with `method`.
  static func serves(_ index: Int, method: String) -> Bool {
    routeMethods[index].contains(method)
  }

  private static let routeMethods = routes.map { route in
    Set(route.methods.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
  }

  /// The methods `path` is served with (for a 405's `Allow`), or nil for a path not served.
  static func allowedMethods(_ path: String) -> String? { route(path)?.methods }

  /// The router: the API's routes, the pages from `webRoot`, and the door's middleware.
  public func router(webRoot: String?) -> Router<ArbiterRequestContext> {
    let router = Router(context: ArbiterRequestContext.self)
    router.add(middleware: RouteMiddleware())
    if let metrics { router.add(middleware: RequestMetricsMiddleware(metrics: metrics.requests)) }
    if let tracing { router.add(middleware: TracingMiddleware(tracing: tracing)) }
    router.add(middleware: RequestIDMiddleware())
    router.add(middleware: CORSPolicyMiddleware(origins: Set(configuration.corsOrigins)))
    if let limit = metrics?.inFlight(of: "http") { router.add(middleware: AdmissionMiddleware(limit: limit)) }
    router.add(middleware: DeadlineMiddleware())
    router.add(middleware: JSONErrorMiddleware(allowedMethods: Self.allowedMethods))
    router.add(middleware: AccessMiddleware(authenticator: authenticator))
    if let webRoot {
      // Revalidated on every load (ETag), so a new server's pages are never stale.
      let cache = CacheControl([(MediaType(type: .any), [CacheControl.Value.noCache])])
      router.add(middleware: SiteTemplatesMiddleware())
      router.add(middleware: FileMiddleware(webRoot, cacheControl: cache, searchForIndexHtml: true))
      SitePages(webRoot: webRoot, siteKey: siteKey).addRoutes(to: router)
    }
    addDecisionRoutes(to: router)
    addProfileAndAdminRoutes(to: router, webRoot: webRoot)
    addContactCentreRoutes(to: router)
    addDashboardRoute(to: router)
    addSessionRoutes(to: router)
    addMetricsRoute(to: router)
    return router
  }

  // MARK: decisions

  private func addDecisionRoutes(to router: Router<ArbiterRequestContext>) {
    // Served by ``InlineDecideHandler`` on the event loop; this route answers the requests it
    // leaves to the router (a pipelined one, `Connection: close`, `Expect`) and the in-process tests.
    router.post("/v1/decide") { request, context in
      let started = DispatchTime.now().uptimeNanoseconds
      try Self.checkContentType(request.headers[.contentType])
      let buffer = try await request.body.collect(upTo: configuration.maxBodyBytes)
      let answer = try decideJSON(
        body: Array(buffer.readableBytesView), requestId: context.requestId, deadline: CallDeadline.current)
      let response = Self.response(bytes: answer)
      live.traffic.record(.http, since: started)
      return response
    }
    router.post("/v1/personalize") { request, context in
      let started = DispatchTime.now().uptimeNanoseconds
      var message = try await body(Arbiter_V1_PersonalizeRequest.self, of: request)
      if message.requestID.isEmpty { message.requestID = context.requestId }
      let deadline = CallDeadline.current
      let answer = try mapping { () throws(ArbiterError) in
        try decisions.personalize(message, deadline: deadline) { DispatchTime.now().uptimeNanoseconds <= deadline }
      }
      RequestSpan.record(decisionId: answer.decisionID, fallback: answer.fallback, on: RequestSpan.current)
      let response = try json(answer)
      live.traffic.record(.http, since: started)
      return response
    }
    router.post("/v1/outcomes") { request, _ in
      let message = try await body(Arbiter_V1_RecordOutcomesRequest.self, of: request)
      // Off the event loops and the concurrency pool: it waits for its lines to be written.
      return try json(try await offloaded { () throws(ArbiterError) in try decisions.recordOutcomes(message) })
    }
    // The no-op baseline: the request decoded and checked as Decide checks it, no decision.
    router.post("/v1/benchmark/echo") { request, _ in
      try Self.checkContentType(request.headers[.contentType])
      let buffer = try await request.body.collect(upTo: configuration.maxBodyBytes)
      return Self.response(bytes: try echoJSON(body: Array(buffer.readableBytesView)))
    }
  }

  // MARK: profiles, status, health, the OpenAPI document

  private func addProfileAndAdminRoutes(to router: Router<ArbiterRequestContext>, webRoot: String?) {
    router.get("/v1/customers/:customerId/profile") { request, context in
      var message = Arbiter_V1_GetProfileRequest()
      message.customerID = try Self.customerId(in: context)
      if let limit = request.uri.queryParameters["maxInteractions"] {
        guard let n = UInt32(limit), n <= 50 else {
          throw HTTPAPIError(.invalidArgument, "maxInteractions: '\(limit)' is not a whole number from 0 to 50")
        }
        message.maxInteractions = n
      }
      return try json(try mapping { () throws(ArbiterError) in try profiles.profile(message) })
    }
    router.post("/v1/consents") { request, _ in
      let message = try await body(Arbiter_V1_RecordConsentsRequest.self, of: request)
      let answer: Arbiter_V1_RecordConsentsResponse
      do throws(ArbiterError) { answer = try await profiles.recordConsents(message) } catch { throw HTTPAPIError(error) }
      return try json(answer)
    }
    router.delete("/v1/customers/:customerId") { request, context in
      var message = Arbiter_V1_EraseCustomerRequest()
      message.customerID = try Self.customerId(in: context)
      message.reference = request.uri.queryParameters["reference"].map(String.init) ?? ""
      let answer: Arbiter_V1_EraseCustomerResponse
      do throws(ArbiterError) { answer = try await admin.erase(message, by: context.principal, door: "http") } catch {
        throw HTTPAPIError(error)
      }
      return try json(answer)
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
      return Self.response(bytes: servedOpenAPI(openAPI))
    }
    router.get("/") { _, _ in Response.redirect(to: "/site/home.html") }
    // The console and the dashboard at their short paths (their files load from absolute paths).
    for page in ["console", "dashboard"] {
      let html = webRoot.flatMap { FileManager.default.contents(atPath: "\($0)/\(page)/index.html") }
      router.get(RouterPath(stringLiteral: "/\(page)")) { _, _ in
        guard let html else { throw HTTPAPIError(.notFound, "the \(page) page is not installed") }
        return Self.page(html)
      }
    }
  }

  /// The route's `customerId` path parameter; 400 naming it unless it is a positive whole number.
  static func customerId(in context: ArbiterRequestContext) throws(HTTPAPIError) -> UInt64 {
    let text = context.parameters.get("customerId") ?? ""
    guard let id = UInt64(text), id > 0 else {
      throw HTTPAPIError(.invalidArgument, "customerId: '\(text)' is not a customer id (a positive whole number)")
    }
    return id
  }

  /// An HTML page's response, revalidated on every load.
  static func page<Bytes: Sequence<UInt8>>(_ html: Bytes) -> Response {
    var headers = HTTPFields()
    headers[.contentType] = "text/html; charset=utf-8"
    headers[.cacheControl] = "no-cache"
    return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: html)))
  }

  /// The OpenAPI document with what depends on the live bundle filled in: how many context
  /// feature values a request may give.
  func servedOpenAPI(_ document: Data) -> [UInt8] {
    let extra = contextFeatureLimit
    guard var root = try? JSONSerialization.jsonObject(with: document) as? [String: Any],
      var components = root["components"] as? [String: Any], var schemas = components["schemas"] as? [String: Any],
      var context = schemas["arbiter.v1.InteractionContext"] as? [String: Any],
      var properties = context["properties"] as? [String: Any],
      var features = properties["features"] as? [String: Any], var choices = features["anyOf"] as? [[String: Any]]
    else { return [UInt8](document) }
    choices[0]["maxItems"] = extra
    features["anyOf"] = choices
    properties["features"] = features
    context["properties"] = properties
    schemas["arbiter.v1.InteractionContext"] = context
    components["schemas"] = schemas
    root["components"] = components
    let data = try? JSONSerialization.data(withJSONObject: root, options: [.sortedKeys, .withoutEscapingSlashes])
    return data.map { [UInt8]($0) } ?? [UInt8](document)
  }

  /// How many context feature values a request may give: the live schema's context features
  /// besides the channel.
  var contextFeatureLimit: Int {
    let engine = live.snapshot.engine
    return engine.schema.contextFeatures.count - (engine.catalogue.channelContextFeature == nil ? 0 : 1)
  }

  // MARK: helpers

  /// The request's body as a message, within the size limit. The body is JSON whatever the type
  /// says as long as it is JSON or plain text (a beacon's, or a CORS simple request's); other
  /// types (a form) are refused.
  func body<M: Message>(_ type: M.Type, of request: Request) async throws -> M {
    try Self.checkContentType(request.headers[.contentType])
    let buffer = try await request.body.collect(upTo: configuration.maxBodyBytes)
    return try ProtoJSON.decode(M.self, from: Array(buffer.readableBytesView))
  }

  /// Refuses a body whose type is neither JSON nor plain text (415).
  static func checkContentType(_ given: String?) throws(HTTPAPIError) {
    // The usual type is settled without lowercasing (a String made per request on Decide's path).
    guard let given, !given.hasPrefix("application/json") else { return }
    let contentType = given.lowercased()
    if !contentType.contains("json"), !contentType.hasPrefix("text/plain") {
      throw HTTPAPIError(
        .invalidArgument, "Content-Type must be application/json, got '\(contentType)'", status: .unsupportedMediaType)
    }
  }

  /// The no-op baseline's answer to a Decide request's JSON body: decoded and checked as Decide
  /// checks it, no decision, the same answer every time.
  func echoJSON(body: [UInt8]) throws(HTTPAPIError) -> [UInt8] {
    let message = try ProtoJSON.decode(Arbiter_V1_DecideRequest.self, from: body)
    _ = try mapping { () throws(ArbiterError) in try DecisionRequest(proto: message) }
    guard message.context.features.count <= contextFeatureLimit else {
      throw HTTPAPIError(
        .invalidArgument,
        "context.features: at most \(contextFeatureLimit) values, got \(message.context.features.count)")
    }
    return echoAnswer
  }

  /// A Decide request's JSON body answered: decoded, decided (the request's id when the body
  /// gives none) within `deadline` (uptime nanoseconds, `.max` for none), and the decision's JSON.
  func decideJSON(
    body: [UInt8], requestId: String, deadline: UInt64 = .max, span: (any Span)? = RequestSpan.current
  ) throws(HTTPAPIError) -> [UInt8] {
    var message = try ProtoJSON.decode(Arbiter_V1_DecideRequest.self, from: body)
    if message.requestID.isEmpty { message.requestID = requestId }
    let decision = try mapping { () throws(ArbiterError) in
      try decisions.decision(for: message, deadline: deadline) { DispatchTime.now().uptimeNanoseconds <= deadline }
    }
    RequestSpan.record(decisionId: decision.decisionId, fallback: decision.fallback, on: span)
    return DecideResponseJSON.encode(decision)
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
