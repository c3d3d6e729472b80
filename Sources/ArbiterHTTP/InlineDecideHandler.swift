import ArbiterAccess
import ArbiterCore
import ArbiterObservability
import ArbiterService
import Dispatch
import NIOCore
import NIOHTTP1
import Tracing

/// Answers `POST /v1/decide` (and its no-op baseline, `/v1/benchmark/echo`) on the event loop,
/// as the lean door answers Decide: the request's
/// parts are read here, decided and written back without a task, a hop to another thread or the
/// router's middleware (which cost the HTTP door most of its time per request, BENCHMARKS.md).
/// Every other request goes on to Hummingbird's router, and so does a Decide the router must see:
/// one arriving while a passed request is still being answered (pipelined: responses keep their
/// order), HTTP/1.0 or `Connection: close` (the router closes the connection), `Expect`.
///
/// The answer is the router's: the same ``HTTPAPI/decideJSON(body:requestId:)``, content-type
/// check, body limit, request id, CORS headers and JSON errors (`InlineDecideHandlerTests`
/// compares the two). It sits between NIO's HTTP/1 decoder and Hummingbird's codec.
package final class InlineDecideHandler: ChannelDuplexHandler, RemovableChannelHandler {
  package typealias InboundIn = HTTPServerRequestPart
  package typealias InboundOut = HTTPServerRequestPart
  package typealias OutboundIn = HTTPServerResponsePart
  package typealias OutboundOut = HTTPServerResponsePart

  /// A Decide being read.
  private struct Reading {
    var head: HTTPRequestHead
    /// Decide itself, or its no-op baseline (`/v1/benchmark/echo`).
    var isEcho: Bool
    /// The body so far; nil once it is over the limit (the rest is read and dropped).
    var body: ByteBuffer?
    var started: UInt64
    /// The access check's refusal (or the door's in-flight bound's), answered once the request
    /// is read (as the router would).
    var refusal: ArbiterError?
    /// Whether it holds a place under the door's in-flight bound (given back once answered).
    var admitted: Bool
    /// When it must be answered by (its `X-Server-Timeout`), `.max` for none.
    var deadline = UInt64.max
    /// Its span, when tracing is on.
    var span: (any Span)?
  }

  private let api: HTTPAPI
  private let origins: Set<String>
  private let serverName: String
  private var reading: Reading?
  /// Requests passed on whose responses have not ended yet.
  private var passedInFlight = 0
  /// A graceful shutdown's quiesce event that came while a Decide was being read: passed on (and
  /// the idle connection closed by Hummingbird) once that Decide is answered.
  private var heldQuiesce = false
  private var date = HTTPDateField()

  /// A handler answering Decide with `api`, its responses naming `serverName` as Hummingbird's do.
  package init(api: HTTPAPI, serverName: String) {
    self.api = api
    self.origins = Set(api.configuration.corsOrigins)
    self.serverName = serverName
    inFlightLimit = api.metrics?.inFlight(of: "http")
    decideMetrics = api.metrics?.requests.method(door: "http", method: "POST " + Self.decidePath)
    echoMetrics = api.metrics?.requests.method(door: "http", method: "POST " + Self.echoPath)
  }

  /// The door's bound on requests in flight, shared with the router's ``AdmissionMiddleware``.
  private let inFlightLimit: InFlightLimit?
  /// Where Decide and its no-op answered here are counted, as the router counts its routes.
  private let decideMetrics: MethodMetrics?, echoMetrics: MethodMetrics?

  /// The clock of this connection's event loop, set when the handler is added.
  private var cycleClock: ReadCycleClock?

  package func handlerAdded(context: ChannelHandlerContext) {
    cycleClock = ReadCycleClock.of(context.eventLoop)
  }

  package func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    switch unwrapInboundIn(data) {
    case .head(let head):
      // A credential that cannot be settled without waiting (a token not verified before) goes
      // to the router, whose check verifies it (and remembers it for the next request).
      if passedInFlight == 0, Self.isAnsweredHere(head), let refusal = accessCheck(head) {
        let body = context.channel.allocator.buffer(capacity: 1_024)
        // Past the door's bound, or waited past its limit since the event loop's pass over the
        // ready connections began (behind the others' decisions), shed: answered once read,
        // before the access check's answer.
        let passStarted = cycleClock?.passStarted()
        let started = DispatchTime.now().uptimeNanoseconds
        let waited = passStarted.map { started &- $0 } ?? 0
        let admitted = inFlightLimit?.admit(waitedNanos: waited) ?? true
        let shed =
          admitted
          ? nil
          : inFlightLimit.map { limit in
            ArbiterError(
              .resourceExhausted, waited > limit.maxQueueNanos ? limit.delayRefusalMessage : limit.refusalMessage)
          }
        var deadline = UInt64.max
        var late: ArbiterError?
        if let timeout = head.headers.first(name: DeadlineMiddleware.header.rawName) {
          do throws(HTTPAPIError) {
            deadline = try DeadlineMiddleware.deadline(header: timeout, from: started)
          } catch {
            late = ArbiterError(error.code == .deadlineExceeded ? .deadlineExceeded : .invalidArgument, error.message)
          }
        }
        let span = api.tracing?.span(
          door: "http", method: "POST " + head.uri,
          headers: TraceHeaders(
            traceparent: head.headers.first(name: "traceparent"), tracestate: head.headers.first(name: "tracestate")))
        reading = Reading(
          head: head, isEcho: head.uri == Self.echoPath, body: body, started: started,
          refusal: shed ?? refusal ?? late, admitted: admitted && inFlightLimit != nil, deadline: deadline, span: span)
      } else {
        passedInFlight += 1
        context.fireChannelRead(data)
      }
    case .body(var chunk):
      guard var request = reading else { return context.fireChannelRead(data) }
      reading = nil  // so that the body's storage is not shared while written to
      if var body = request.body {
        request.body = nil
        if body.readableBytes + chunk.readableBytes <= api.configuration.maxBodyBytes {
          body.writeBuffer(&chunk)
          request.body = body
        }
      }
      reading = request
    case .end:
      guard let request = reading else { return context.fireChannelRead(data) }
      reading = nil
      answer(request, context: context)
      if heldQuiesce {
        heldQuiesce = false
        context.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
      }
    }
  }

  /// A connection closed half-way through a Decide gives its place back.
  package func channelInactive(context: ChannelHandlerContext) {
    if let request = reading, request.admitted { inFlightLimit?.release() }
    reading?.span?.end()
    reading = nil
    context.fireChannelInactive()
  }

  /// Hummingbird closes a connection it sees idle when the server shuts down; it never sees the
  /// requests answered here, so the event waits until one being read is answered.
  package func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
    if event is ChannelShouldQuiesceEvent, reading != nil {
      heldQuiesce = true
      return
    }
    context.fireUserInboundEventTriggered(event)
  }

  package func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
    if case .end = unwrapOutboundIn(data), passedInFlight > 0 { passedInFlight -= 1 }
    context.write(data, promise: promise)
  }

  private static let decidePath = "/v1/decide", echoPath = "/v1/benchmark/echo"
  /// The roles their routes need (``HTTPAPI/routes``), looked up once.
  private static let decideRole = HTTPAPI.route(decidePath)?.role ?? .admin
  private static let echoRole = HTTPAPI.route(echoPath)?.role ?? .admin

  /// The access check as far as it goes here: `.some(nil)` allowed, `.some(error)` refused, nil
  /// when a token must be verified first (by the router).
  private func accessCheck(_ head: HTTPRequestHead) -> ArbiterError?? {
    guard api.authenticator.required else { return .some(nil) }
    let role = head.uri == Self.echoPath ? Self.echoRole : Self.decideRole
    switch api.authenticator.checkWithoutWaiting(
      authorization: head.headers.first(name: "authorization"), cookie: head.headers.first(name: "cookie"),
      needs: role, for: "POST \(head.uri)")
    {
    case .allowed: return .some(nil)
    case .refused(let error): return .some(error)
    case .needsVerifying: return nil
    }
  }

  /// A keep-alive HTTP/1.1 `POST /v1/decide` (or its no-op baseline) with nothing to negotiate.
  package static func isAnsweredHere(_ head: HTTPRequestHead) -> Bool {
    head.method == .POST && (head.uri == decidePath || head.uri == echoPath) && head.version == .http1_1
      && head.isKeepAlive
      && !head.headers.contains(name: "expect") && !head.headers.contains(name: "upgrade")
  }

  private func answer(_ request: Reading, context: ChannelHandlerContext) {
    let headers = request.head.headers
    let requestId = RequestIDMiddleware.requestId(given: headers.first(name: RequestIDMiddleware.header.rawName))
    var status = HTTPResponseStatus.ok
    var allow: String?
    let bytes: [UInt8]
    do throws(HTTPAPIError) {
      if let refusal = request.refusal { throw HTTPAPIError(refusal) }
      try HTTPAPI.checkContentType(headers.first(name: "content-type"))
      guard let body = request.body else { throw HTTPAPIError.bodyOverLimit }
      if request.isEcho {
        bytes = try api.echoJSON(body: Array(body.readableBytesView))
      } else {
        // Past its deadline before it could start (its body came late): refused before any work.
        guard DispatchTime.now().uptimeNanoseconds <= request.deadline else {
          throw HTTPAPIError(.deadlineExceeded, "the deadline (X-Server-Timeout) passed before the request started")
        }
        bytes = try api.decideJSON(
          body: Array(body.readableBytesView), requestId: requestId, deadline: request.deadline, span: request.span)
        api.live.traffic.record(.http, since: request.started)
      }
    } catch {
      status = HTTPResponseStatus(statusCode: Int(error.status.code), reasonPhrase: error.status.reasonPhrase)
      allow = error.allow
      bytes = error.body
    }
    var fields = HTTPHeaders()
    fields.reserveCapacity(9)
    fields.add(name: "Content-Type", value: "application/json")
    fields.add(name: "Content-Length", value: String(bytes.count))
    if let allow { fields.add(name: "Allow", value: allow) }
    if let origin = headers.first(name: "origin"), origins.contains(origin) {
      for (name, value) in CORSPolicyMiddleware.responseHeaders(origin: origin) {
        fields.add(name: name.rawName, value: value)
      }
    }
    fields.add(name: RequestIDMiddleware.header.rawName, value: requestId)
    fields.add(name: "Date", value: date.now())
    fields.add(name: "Server", value: serverName)
    var buffer = context.channel.allocator.buffer(capacity: bytes.count)
    buffer.writeBytes(bytes)
    context.write(
      wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: fields))), promise: nil)
    context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
    // Its place is given back as its answer goes out (the client may read it at once).
    if request.admitted { inFlightLimit?.release() }
    context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    if let span = request.span { RequestSpan.end(span, httpStatus: Int(status.code)) }
    (request.isEcho ? echoMetrics : decideMetrics)?.record(
      httpStatus: Int(status.code), nanoseconds: DispatchTime.now().uptimeNanoseconds &- request.started)
  }
}
