import ArbiterAccess
import ArbiterCore
import Foundation
import Hummingbird

/// The browsers' login (the console's and the dashboard's): a credential is exchanged once for a
/// session cookie (`arbiter_session`: HttpOnly, SameSite=Strict, so that other sites' pages cannot
/// send it), which the access check then accepts in place of an `Authorization` header.
extension HTTPAPI {
  /// What a login posts: the credential, an API key or a signed token.
  struct LoginRequest {
    var credential: String
  }

  /// The login's body, `{"credential": "…"}` and nothing else: another field, or a credential that
  /// is not a string, is refused naming it.
  static func login(from body: Data) throws(HTTPAPIError) -> LoginRequest {
    let expected = "the body must be {\"credential\": \"<API key or token>\"}"
    guard let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any] else {
      throw HTTPAPIError(.invalidArgument, expected)
    }
    if let unknown = object.keys.sorted().first(where: { $0 != "credential" }) {
      throw HTTPAPIError(.invalidArgument, "\(unknown): unknown field; \(expected)")
    }
    guard let credential = object["credential"] as? String else {
      throw HTTPAPIError(.invalidArgument, "credential: missing or not a string; \(expected)")
    }
    return LoginRequest(credential: credential)
  }

  /// Who is logged in, as `/v1/session` answers.
  struct SessionAnswer: Encodable {
    /// Whether the server requires credentials at all (false: no login is needed).
    var required: Bool
    var name: String?
    var roles: [String]?
    /// When the session ends, in ISO 8601.
    var expires: String?
  }

  func addSessionRoutes(to router: Router<ArbiterRequestContext>) {
    router.get("/v1/session") { request, _ in
      guard authenticator.required else { return try Self.sessionResponse(SessionAnswer(required: false)) }
      guard let id = Authenticator.sessionCookie(in: request.headers[.cookie]),
        let principal = authenticator.session(id)
      else {
        throw HTTPAPIError(.unauthenticated, "not logged in: POST /v1/session with {\"credential\": \"…\"}")
      }
      return try Self.sessionResponse(Self.answer(for: principal))
    }
    router.post("/v1/session") { request, _ in
      try Self.checkContentType(request.headers[.contentType])
      let buffer = try await request.body.collect(upTo: 64 * 1024)
      let login = try Self.login(from: Data(buffer.readableBytesView))
      // Spaces and line ends around a pasted key are not part of it.
      let credential = login.credential.trimmingCharacters(in: .whitespacesAndNewlines)
      guard !login.credential.isEmpty else {
        throw HTTPAPIError(.invalidArgument, "credential: must not be empty (an API key or a signed token)")
      }
      guard authenticator.required else { return try Self.sessionResponse(SessionAnswer(required: false)) }
      let session: Authenticator.Session
      do throws(ArbiterError) {
        let principal = try await authenticator.identify(credential: credential[...])
        session = try authenticator.openSession(for: principal)
      } catch {
        throw HTTPAPIError(error)
      }
      var response = try Self.sessionResponse(Self.answer(for: session.principal))
      let seconds = max(0, Int((session.principal.expires ?? Date()).timeIntervalSinceNow))
      response.headers[.setCookie] =
        "\(Authenticator.sessionCookieName)=\(session.id); Path=/; Max-Age=\(seconds); HttpOnly; SameSite=Strict"
      return response
    }
    router.delete("/v1/session") { request, _ in
      if let id = Authenticator.sessionCookie(in: request.headers[.cookie]) { authenticator.closeSession(id) }
      var response = try Self.sessionResponse(SessionAnswer(required: authenticator.required))
      response.headers[.setCookie] =
        "\(Authenticator.sessionCookieName)=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict"
      return response
    }
  }

  static func answer(for principal: Principal) -> SessionAnswer {
    SessionAnswer(
      required: true, name: principal.name, roles: principal.roles.names,
      expires: principal.expires.map { ISO8601DateFormatter().string(from: $0) })
  }

  static func sessionResponse(_ answer: SessionAnswer) throws(HTTPAPIError) -> Response {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    guard let data = try? encoder.encode(answer) else {
      throw HTTPAPIError(.internalError, "cannot encode the session")
    }
    var response = response(bytes: [UInt8](data))
    response.headers[.cacheControl] = "no-store"
    return response
  }
}
