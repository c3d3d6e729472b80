import ArbiterCore
import Crypto
import Foundation

extension Authenticator {
  /// A browser's login session: the cookie's value and when it stops being valid.
  public struct Session: Sendable {
    /// The session's id, 32 random bytes in base64url: the `arbiter_session` cookie's value.
    public var id: String
    /// Who logged in, with the session as their credential.
    public var principal: Principal
  }

  /// The longest a login session lasts (a token's session ends with the token, if sooner).
  public static let sessionLifetime: TimeInterval = 12 * 3_600

  /// Opens a login session for `principal`, identified by its credential (the console's or the
  /// dashboard's login): valid for `lifetime` seconds, or until `principal`'s token expires. At
  /// ``sessionLimit`` open sessions the expired ones are dropped; if none is, the login is
  /// refused with RESOURCE_EXHAUSTED.
  public func openSession(
    for principal: Principal, lifetime: TimeInterval = Authenticator.sessionLifetime
  ) throws(ArbiterError) -> Session {
    let time = now()
    let expires = min(time.addingTimeInterval(lifetime), principal.expires ?? .distantFuture)
    var bytes = [UInt8](repeating: 0, count: 32)
    var generator = SystemRandomNumberGenerator()
    for i in bytes.indices { bytes[i] = generator.next() }
    let id = Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-")
      .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    let session = Principal(name: principal.name, roles: principal.roles, credential: .session(expires: expires))
    let opened = sessions.withLock { open in
      if open.count >= Self.sessionLimit { open = open.filter { ($0.value.expires ?? .distantFuture) > time } }
      guard open.count < Self.sessionLimit else { return false }
      open[id] = session
      return true
    }
    guard opened else {
      throw ArbiterError(
        .resourceExhausted, "\(Self.sessionLimit) login sessions are open; log out of one or wait for one to expire")
    }
    return Session(id: id, principal: session)
  }

  /// The session `id` names, if open and not expired.
  public func session(_ id: Substring) -> Principal? {
    let time = now()
    guard let principal = sessions.withLock({ $0[String(id)] }), (principal.expires ?? .distantFuture) > time else {
      return nil
    }
    return principal
  }

  /// Closes the session `id` (logging out); nothing when it is not open.
  public func closeSession(_ id: Substring) { _ = sessions.withLock { $0.removeValue(forKey: String(id)) } }

  /// The value of the `arbiter_session` cookie in a `Cookie` header, if any.
  public static func sessionCookie(in header: String?) -> Substring? {
    guard let header else { return nil }
    for pair in header.split(separator: ";") {
      let trimmed = pair.drop { $0 == " " }
      if trimmed.hasPrefix("\(sessionCookieName)=") { return trimmed.dropFirst(sessionCookieName.count + 1) }
    }
    return nil
  }

  /// The login session cookie's name.
  public static let sessionCookieName = "arbiter_session"

  /// The HTTP door's check of a request carrying an `Authorization` header or, without one, a
  /// login session's cookie (`cookie`, the `Cookie` header): as ``checkWithoutWaiting(authorization:needs:for:)``.
  public func checkWithoutWaiting(
    authorization: String?, cookie: String?, needs role: Role, for action: @autoclosure () -> String
  ) -> ImmediateCheck {
    guard required else { return .allowed(nil) }
    if authorization == nil, let id = Self.sessionCookie(in: cookie) {
      guard let principal = session(id) else {
        unauthenticatedCount.add(1, ordering: .relaxed)
        return .refused(ArbiterError(.unauthenticated, "the login session has expired or was closed: log in again"))
      }
      if let refusal = permit(principal, needs: role, for: action()) { return .refused(refusal) }
      return .allowed(principal)
    }
    return checkWithoutWaiting(authorization: authorization, needs: role, for: action())
  }

  /// As ``authorize(authorization:needs:for:)``, with a login session's cookie when the request
  /// carries no `Authorization` header.
  public func authorize(
    authorization: String?, cookie: String?, needs role: Role, for action: @autoclosure () -> String
  ) async throws(ArbiterError) -> Principal? {
    switch checkWithoutWaiting(authorization: authorization, cookie: cookie, needs: role, for: action()) {
    case .allowed(let principal): return principal
    case .refused(let error): throw error
    // The header's token, not seen before: verified without checking the header a second time.
    case .needsVerifying: return try await verifyThenJudge(authorization: authorization, needs: role, for: action())
    }
  }
}
