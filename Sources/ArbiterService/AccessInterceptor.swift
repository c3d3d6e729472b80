import ArbiterAccess
import ArbiterCore
import GRPCCore

/// The gRPC door's access check: the `authorization` metadata's credential and the role the
/// method needs (``MethodRoles``), before the call's handler runs. A refusal is UNAUTHENTICATED
/// or PERMISSION_DENIED with a message saying what was missing.
public struct AccessInterceptor: ServerInterceptor {
  let authenticator: Authenticator

  /// Checks calls with `authenticator`.
  public init(authenticator: Authenticator) { self.authenticator = authenticator }

  /// Lets the call through to `next` once its credential and role are checked.
  public func intercept<Input: Sendable, Output: Sendable>(
    request: StreamingServerRequest<Input>, context: ServerContext,
    next: @Sendable (StreamingServerRequest<Input>, ServerContext) async throws -> StreamingServerResponse<Output>
  ) async throws -> StreamingServerResponse<Output> {
    if authenticator.required, let role = MethodRoles.role(for: context.descriptor) {
      let authorization = request.metadata[stringValues: "authorization"].first { _ in true }
      do throws(ArbiterError) {
        _ = try await authenticator.authorize(authorization: authorization, needs: role, for: "\(context.descriptor)")
      } catch {
        throw RPCError(error)
      }
    }
    return try await next(request, context)
  }
}
