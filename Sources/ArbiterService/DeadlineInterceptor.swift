import ArbiterCore
import GRPCCore

#if canImport(Dispatch)
  import Dispatch
#endif

/// The gRPC door's deadlines: a call whose `grpc-timeout` has already run out when it reaches
/// its handler (a timeout of 0, or one used up waiting in the server) fails with
/// DEADLINE_EXCEEDED before any work; otherwise its deadline is carried into the decision
/// (``CallDeadline/current``), whose budget it bounds (the SLA fallback). grpc-swift cancels the
/// call when the timeout ends; this makes the refusal immediate and the budget known.
public struct DeadlineInterceptor: ServerInterceptor {
  /// A deadline interceptor.
  public init() {}

  /// Refuses an expired call, or runs it with its deadline known.
  public func intercept<Input: Sendable, Output: Sendable>(
    request: StreamingServerRequest<Input>, context: ServerContext,
    next: @Sendable (StreamingServerRequest<Input>, ServerContext) async throws -> StreamingServerResponse<Output>
  ) async throws -> StreamingServerResponse<Output> {
    guard let header = request.metadata[stringValues: "grpc-timeout"].first(where: { _ in true }) else {
      return try await next(request, context)
    }
    guard let nanoseconds = CallDeadline.nanoseconds(grpcTimeout: header) else {
      throw RPCError(code: .invalidArgument, message: "grpc-timeout: '\(header.prefix(32))' is not a gRPC timeout")
    }
    guard nanoseconds > 0, !context.cancellation.isCancelled else {
      throw RPCError(
        code: .deadlineExceeded, message: "the deadline (grpc-timeout \(header)) passed before the call started")
    }
    let deadline = DispatchTime.now().uptimeNanoseconds &+ nanoseconds
    return try await CallDeadline.$current.withValue(deadline) { try await next(request, context) }
  }
}
