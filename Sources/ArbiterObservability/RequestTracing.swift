import Tracing

/// A request's trace headers as a door read them (W3C Trace Context).
public struct TraceHeaders: Sendable {
  /// `traceparent`, if the caller sent one.
  public var traceparent: String?
  /// `tracestate`, if the caller sent one.
  public var tracestate: String?

  /// The headers given.
  public init(traceparent: String?, tracestate: String? = nil) {
    self.traceparent = traceparent
    self.tracestate = tracestate
  }
}

/// Reads ``TraceHeaders`` for the tracer's W3C propagator.
struct TraceHeadersExtractor: Extractor {
  func extract(key: String, from carrier: TraceHeaders) -> String? {
    switch key.lowercased() {
    case "traceparent": carrier.traceparent
    case "tracestate": carrier.tracestate
    default: nil
    }
  }
}

/// A span per request when tracing is on (OpenTelemetry, off by default): named by door and
/// method, a child of the caller's `traceparent` when it sent one, carrying the decision id. The
/// doors start and end it; the decision adds to it through ``RequestSpan``.
public final class RequestTracing: Sendable {
  private let start: @Sendable (_ name: String, _ headers: TraceHeaders) -> any Span

  /// Spans from `tracer` (not the process-wide instrumentation system, so that two servers in one
  /// process keep theirs apart).
  public init<T: Tracer>(tracer: T) {
    start = { name, headers in
      var context = ServiceContext.topLevel
      if headers.traceparent != nil {
        tracer.extract(headers, into: &context, using: TraceHeadersExtractor())
      }
      return tracer.startSpan(name, context: context, ofKind: .server)
    }
  }

  /// A started span for a request to `method` on `door`, with what its headers say.
  public func span(door: String, method: String, headers: TraceHeaders) -> any Span {
    let span = start("\(door) \(method)", headers)
    span.attributes["arbiter.door"] = door
    span.attributes["rpc.method"] = method
    return span
  }
}

/// The span of the request being handled on this task, if it is traced (the gRPC and HTTP
/// doors set it), for the decision to add its id to.
public enum RequestSpan {
  /// The current request's span.
  @TaskLocal public static var current: (any Span)?

  /// Marks `span` with the decision's id.
  public static func record(decisionId: String, fallback: Bool, on span: (any Span)?) {
    guard let span else { return }
    span.attributes["arbiter.decision_id"] = decisionId
    if fallback { span.attributes["arbiter.fallback"] = true }
  }

  /// Ends `span` with the call's status: a gRPC code (0 OK) and its message.
  public static func end(_ span: any Span, grpcCode: Int, message: String = "") {
    span.attributes["rpc.grpc.status_code"] = grpcCode
    if grpcCode != 0 { span.setStatus(SpanStatus(code: .error, message: message.isEmpty ? nil : message)) }
    span.end()
  }

  /// Ends `span` with an HTTP status.
  public static func end(_ span: any Span, httpStatus: Int) {
    span.attributes["http.response.status_code"] = httpStatus
    if httpStatus >= 500 { span.setStatus(SpanStatus(code: .error)) }
    span.end()
  }
}
