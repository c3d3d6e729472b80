import ArbiterAccess
import ArbiterHTTP
import ArbiterServer
import Foundation
import HTTPTypes
import NIOCore
import NIOEmbedded
import NIOHTTP1
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

  /// Sends a Decide to the handler; its answer, or nil when it was passed on to the router.
  func sendInline(_ channel: EmbeddedChannel, authorization: String?) throws -> (status: Int, body: String)? {
    var headers = HTTPHeaders([("Content-Type", "application/json")])
    if let authorization { headers.add(name: "Authorization", value: authorization) }
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
