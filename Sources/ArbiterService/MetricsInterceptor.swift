import ArbiterObservability
import GRPCCore

#if canImport(Dispatch)
  import Dispatch
#endif

/// The gRPC door's request metrics: every call counted by method and status, with its latency,
/// refusals of the access check included (it runs inside this one).
public struct MetricsInterceptor: ServerInterceptor {
  let metrics: RequestMetrics

  /// Records calls into `metrics`.
  public init(metrics: RequestMetrics) { self.metrics = metrics }

  /// Times `next` and records how the call ended.
  public func intercept<Input: Sendable, Output: Sendable>(
    request: StreamingServerRequest<Input>, context: ServerContext,
    next: @Sendable (StreamingServerRequest<Input>, ServerContext) async throws -> StreamingServerResponse<Output>
  ) async throws -> StreamingServerResponse<Output> {
    let started = DispatchTime.now().uptimeNanoseconds
    let recorder = metrics.method(door: "grpc", method: context.descriptor.fullyQualifiedMethod)
    do {
      let response = try await next(request, context)
      let code: Int
      switch response.accepted {
      case .success: code = 0
      case .failure(let error): code = error.code.rawValue
      }
      recorder.record(code: code, nanoseconds: DispatchTime.now().uptimeNanoseconds &- started)
      return response
    } catch let error as RPCError {
      recorder.record(code: error.code.rawValue, nanoseconds: DispatchTime.now().uptimeNanoseconds &- started)
      throw error
    } catch {
      recorder.record(
        code: RPCError.Code.unknown.rawValue, nanoseconds: DispatchTime.now().uptimeNanoseconds &- started)
      throw error
    }
  }
}
