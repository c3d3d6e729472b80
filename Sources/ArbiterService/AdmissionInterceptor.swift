import ArbiterObservability
import GRPCCore

/// The gRPC door's bound on work in flight: a call past ``InFlightLimit/limit`` fails at once
/// with RESOURCE_EXHAUSTED naming the limit, before the access check or any work. A call's place
/// is held while its handler runs; a stream's (events, agents' screens, reflection) only while
/// it is set up, not while it stays open.
public struct AdmissionInterceptor: ServerInterceptor {
  let limit: InFlightLimit

  /// Bounds calls by `limit`.
  public init(limit: InFlightLimit) { self.limit = limit }

  /// Admits the call, or sheds it.
  public func intercept<Input: Sendable, Output: Sendable>(
    request: StreamingServerRequest<Input>, context: ServerContext,
    next: @Sendable (StreamingServerRequest<Input>, ServerContext) async throws -> StreamingServerResponse<Output>
  ) async throws -> StreamingServerResponse<Output> {
    guard limit.admit() else { throw RPCError(code: .resourceExhausted, message: limit.refusalMessage) }
    defer { limit.release() }
    return try await next(request, context)
  }
}
