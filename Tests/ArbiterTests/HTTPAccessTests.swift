import ArbiterAccess
import ArbiterHTTP
import ArbiterServer
import Foundation
import HTTPTypes
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Synchronization
import Testing

/// The HTTP door's access check, through the router and on the event loop (``InlineDecideHandler``):
/// 401 and 403 as JSON before any work, pages and health open to all.
@Suite struct HTTPAccessTests {
  let server: ArbiterServer
  let client: HTTPTestClient
  static let decide = #"{"customerId":"100042","channel":"CHANNEL_WEB","maxOffers":2}"#

  init() throws {
    server = try TestSupport.makeServer { $0.access = AccessTests.configuration() }
    client = HTTPTestClient(api: server.httpAPI, webRoot: HTTPServerService.builtInWebRoot)
  }

  func bearer(_ secret: String) -> HTTPFields { [.authorization: "Bearer \(secret)"] }

  @Test func routesNeedTheirRoleAndPagesDoNot() async throws {
    let bare = try await client.post("/v1/decide", Self.decide)
    #expect(bare.status == 401)
    #expect(bare.json["code"] as? String == "UNAUTHENTICATED")
    #expect((bare.json["message"] as? String ?? "").contains("no credentials"))
    let decided = try await client.post("/v1/decide", Self.decide, headers: bearer(AccessTests.decideKey))
    #expect(decided.status == 200 && decided.json["decisionId"] != nil)
    let profile = try await client.get("/v1/customers/100042/profile", headers: bearer(AccessTests.decideKey))
    #expect(profile.status == 403)
    #expect(profile.json["code"] as? String == "PERMISSION_DENIED")
    #expect((profile.json["message"] as? String ?? "").contains("needs the role profile-read"))
    #expect(try await client.get("/v1/dashboard", headers: bearer(AccessTests.decideKey)).status == 403)
    #expect(try await client.get("/v1/dashboard", headers: bearer(AccessTests.adminKey)).status == 200)
    let token = try await AccessTests.token(roles: ["profile-read"])
    #expect(try await client.get("/v1/customers/100042/profile", headers: bearer(token)).status == 200)
    // Open to all: health, the OpenAPI document, the pages and the snippet.
    for path in ["/health", "/openapi.json", "/site/home.html", "/arbiter.js"] {
      #expect(try await client.get(path).status == 200, "\(path)")
    }
  }

  /// The console's and the dashboard's login: a credential exchanged for an HttpOnly,
  /// SameSite=Strict session cookie, which then stands in for the header, with the credential's
  /// roles; logging out closes it; a bad credential opens none.
  @Test func aLoginSessionCookieStandsInForTheCredentialUntilLoggedOut() async throws {
    #expect(try await client.get("/v1/session").status == 401)
    let refused = try await client.post("/v1/session", #"{"credential":"not-a-key-0123456789"}"#)
    #expect(refused.status == 401 && refused.headers[.setCookie] == nil)
    #expect((refused.json["message"] as? String) == "the API key is not one this server knows")
    for (body, words) in [
      (#"{"key":"x"}"#, "key: unknown field"), (#"{"credential":""}"#, "credential: must not be empty"),
      (#"{"credential":7}"#, "credential: missing or not a string"),
      (#"{"credential":"x","remember":true}"#, "remember: unknown field"), ("[]", "the body must be"),
    ] {
      let answer = try await client.post("/v1/session", body)
      #expect(answer.status == 400 && (answer.json["message"] as? String ?? "").contains(words), "\(body)")
    }

    let login = try await client.post("/v1/session", #"{"credential":"\#(AccessTests.decideKey)"}"#)
    #expect(login.status == 200)
    #expect(login.json["name"] as? String == "web-frontend" && login.json["roles"] as? [String] == ["decide"])
    let cookie = try #require(login.headers[.setCookie])
    #expect(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict") && cookie.contains("Path=/"))
    let value = try #require(cookie.split(separator: ";").first.map(String.init))
    #expect(value.hasPrefix("arbiter_session=") && value.count == "arbiter_session=".count + 43)
    let session: HTTPFields = [.cookie: "theme=dark; \(value)"]
    #expect(try await client.get("/v1/session", headers: session).json["name"] as? String == "web-frontend")
    let decided = try await client.post("/v1/decide", Self.decide, headers: session)
    #expect(decided.status == 200 && decided.json["decisionId"] != nil)
    // The event-loop door takes the cookie too.
    let channel = EmbeddedChannel(handler: InlineDecideHandler(api: server.httpAPI, serverName: "arbiter"))
    let inline = try #require(try sendInline(channel, authorization: nil, cookie: value))
    #expect(inline.status == 200 && inline.body.contains("decisionId"))
    _ = try? channel.finish()
    // The session has the credential's roles and no more.
    #expect(try await client.get("/v1/dashboard", headers: session).status == 403)
    let logout = try await client.call(.delete, "/v1/session", headers: session)
    #expect(logout.status == 200 && logout.headers[.setCookie]?.contains("Max-Age=0") == true)
    let after = try await client.post("/v1/decide", Self.decide, headers: session)
    #expect(after.status == 401)
    #expect((after.json["message"] as? String ?? "").contains("the login session has expired or was closed"))
    // A forged cookie opens nothing.
    #expect(try await client.get("/v1/status", headers: [.cookie: "arbiter_session=forged"]).status == 401)
  }

  @Test func aSessionEndsWithItsTokenAndAtItsLifetime() async throws {
    let clock = Mutex(Date())
    let access = try Authenticator(configuration: AccessTests.configuration(), now: { clock.withLock { $0 } })
    let token = try await AccessTests.token(roles: ["admin"], after: 600)
    let principal = try await access.identify(credential: token[...])
    let session = try access.openSession(for: principal)
    #expect(access.session(session.id[...])?.name == "agent-7")
    #expect(session.principal.expires! <= principal.expires!, "no longer than the token")
    clock.withLock { $0 = $0.addingTimeInterval(601) }
    #expect(access.session(session.id[...]) == nil)
    let keyHolder = try await access.identify(credential: AccessTests.adminKey[...])
    let long = try access.openSession(for: keyHolder, lifetime: 60)
    #expect(access.session(long.id[...]) != nil)
    if case .refused(let error) = access.checkWithoutWaiting(
      authorization: nil, cookie: "arbiter_session=\(long.id)", needs: .admin, for: "GET /v1/status")
    {
      Issue.record("refused: \(error.message)")
    }
    clock.withLock { $0 = $0.addingTimeInterval(61) }
    guard
      case .refused(let error) = access.checkWithoutWaiting(
        authorization: nil, cookie: "arbiter_session=\(long.id)", needs: .admin, for: "GET /v1/status")
    else {
      Issue.record("an expired session was let through")
      return
    }
    #expect(error.code == .unauthenticated)
  }

  /// Sends a Decide to the handler; its answer, or nil when it was passed on to the router.
  func sendInline(
    _ channel: EmbeddedChannel, authorization: String?, cookie: String? = nil
  ) throws -> (status: Int, body: String)? {
    var headers = HTTPHeaders([("Content-Type", "application/json")])
    if let authorization { headers.add(name: "Authorization", value: authorization) }
    if let cookie { headers.add(name: "Cookie", value: cookie) }
    try channel.writeInbound(
      HTTPServerRequestPart.head(HTTPRequestHead(version: .http1_1, method: .POST, uri: "/v1/decide", headers: headers))
    )
    try channel.writeInbound(HTTPServerRequestPart.body(ByteBuffer(string: Self.decide)))
    try channel.writeInbound(HTTPServerRequestPart.end(nil))
    guard case .head(let head) = try channel.readOutbound(as: HTTPServerResponsePart.self) else {
      // Passed on: the request's parts went on to the router.
      var passed = 0
      while try channel.readInbound(as: HTTPServerRequestPart.self) != nil { passed += 1 }
      #expect(passed == 3)
      return nil
    }
    var body = ""
    while let part = try channel.readOutbound(as: HTTPServerResponsePart.self) {
      if case .body(.byteBuffer(let buffer)) = part { body += String(buffer: buffer) }
      if case .end = part { break }
    }
    return (Int(head.status.code), body)
  }

  @Test func theEventLoopDoorChecksKeysAndRememberedTokensAndPassesNewTokensOn() async throws {
    let token = try await AccessTests.token(roles: ["decide"])
    do {
      let channel = EmbeddedChannel(handler: InlineDecideHandler(api: server.httpAPI, serverName: "arbiter"))
      let refused = try #require(try sendInline(channel, authorization: nil))
      #expect(refused.status == 401 && refused.body.contains("UNAUTHENTICATED"))
      let wrong = try #require(try sendInline(channel, authorization: "Bearer not-a-key-0123456789"))
      #expect(wrong.status == 401)
      let allowed = try #require(try sendInline(channel, authorization: "Bearer \(AccessTests.decideKey)"))
      #expect(allowed.status == 200 && allowed.body.contains("decisionId"))
      // A token never seen: the router verifies it.
      #expect(try sendInline(channel, authorization: "Bearer \(token)") == nil)
    }
    let routed = try await client.post("/v1/decide", Self.decide, headers: bearer(token))
    #expect(routed.status == 200)
    // Verified once: answered on the event loop from then on.
    let channel = EmbeddedChannel(handler: InlineDecideHandler(api: server.httpAPI, serverName: "arbiter"))
    let remembered = try #require(try sendInline(channel, authorization: "Bearer \(token)"))
    #expect(remembered.status == 200)
    #expect(server.authenticator.refusals.unauthenticated == 2)
  }
}
