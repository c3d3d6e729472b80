import ArbiterObservability
import GRPCCore

/// The gRPC door's traces (when tracing is on): a span per call, a child of the caller's W3C
/// `traceparent` metadata when it sent one, with the method, the status and (for a decision) the
/// decision id, which the service adds through ``RequestSpan``.
public struct TracingInterceptor: ServerInterceptor {
  let tracing: RequestTracing

  /// Spans from `tracing`.
  public init(tracing: RequestTracing) { self.tracing = tracing }

  /// Runs the call inside its span.
  public func intercept<Input: Sendable, Output: Sendable>(
    request: StreamingServerRequest<Input>, context: ServerContext,
    next: @Sendable (StreamingServerRequest<Input>, ServerContext) async throws -> StreamingServerResponse<Output>
  ) async throws -> StreamingServerResponse<Output> {
    let headers = TraceHeaders(
      traceparent: request.metadata[stringValues: "traceparent"].first(where: { _ in true }),
      tracestate: request.metadata[stringValues: "tracestate"].first(where: { _ in true }))
    let span = tracing.span(door: "grpc", method: context.descriptor.fullyQualifiedMethod, headers: headers)
    do {
      let response = try await RequestSpan.$current.withValue(span) { try await next(request, context) }
      switch response.accepted {
      case .success: RequestSpan.end(span, grpcCode: 0)
      case .failure(let error): RequestSpan.end(span, grpcCode: error.code.rawValue, message: error.message)
      }
      return response
    } catch let error as RPCError {
      RequestSpan.end(span, grpcCode: error.code.rawValue, message: error.message)
      throw error
    } catch {
      RequestSpan.end(span, grpcCode: RPCError.Code.unknown.rawValue, message: "\(error)")
      throw error
    }
  }
}
