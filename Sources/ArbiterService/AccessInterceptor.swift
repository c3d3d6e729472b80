import ArbiterAccess
import ArbiterCore
import GRPCCore

/// The gRPC door's access check: the `authorization` metadata's credential and the role the
/// method needs (``MethodRoles``), before the call's handler runs. A refusal is UNAUTHENTICATED
/// or PERMISSION_DENIED with a message saying what was missing.
public struct AccessInterceptor: ServerInterceptor {
  let authenticator: Authenticator
  /// Where refused attempts at audited methods (``MethodRoles/audited``) are written.
  let audit: AuditLog?

  /// Checks calls with `authenticator`, writing refused attempts at admin actions to `audit`.
  public init(authenticator: Authenticator, audit: AuditLog? = nil) {
    self.authenticator = authenticator
    self.audit = audit
  }

  /// Lets the call through to `next` once its credential and role are checked.
  public func intercept<Input: Sendable, Output: Sendable>(
    request: StreamingServerRequest<Input>, context: ServerContext,
    next: @Sendable (StreamingServerRequest<Input>, ServerContext) async throws -> StreamingServerResponse<Output>
  ) async throws -> StreamingServerResponse<Output> {
    var principal: Principal?
    if authenticator.required, let role = MethodRoles.role(for: context.descriptor) {
      let authorization = request.metadata[stringValues: "authorization"].first { _ in true }
      do throws(ArbiterError) {
        principal = try await authenticator.authorize(
          authorization: authorization, needs: role, for: "\(context.descriptor)")
      } catch {
        let status = RPCError(error)
        if let audit, MethodRoles.audited.contains(context.descriptor) {
          // Who tried, when the credential named someone (a missing role); nil when it named no one.
          let who = try? await authenticator.authenticate(authorization: authorization)
          audit.recordLater(
            AuditLog.Entry(
              principal: who, door: "grpc", action: "\(context.descriptor)", result: status.code.canonicalName,
              message: status.message))
        }
        throw status
      }
    }
    // The service methods that audit what they do read who called from the task.
    return try await Principal.$current.withValue(principal) { try await next(request, context) }
  }
}
