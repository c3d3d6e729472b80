import GRPCCore

/// A client's credential on every call: `authorization: Bearer <credential>` (an API key or a
/// signed token; docs/security.md). Used by `arbiter-tools` and the tests.
public struct BearerCredentialInterceptor: ClientInterceptor {
  let credential: String

  /// Sends `credential` with every call.
  public init(credential: String) { self.credential = credential }

  /// Adds the metadata and goes on with the call.
  public func intercept<Input: Sendable, Output: Sendable>(
    request: StreamingClientRequest<Input>, context: ClientContext,
    next: (StreamingClientRequest<Input>, ClientContext) async throws -> StreamingClientResponse<Output>
  ) async throws -> StreamingClientResponse<Output> {
    var request = request
    request.metadata.replaceOrAddString("Bearer \(credential)", forKey: "authorization")
    return try await next(request, context)
  }
}
