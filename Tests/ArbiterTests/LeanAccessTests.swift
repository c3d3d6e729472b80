import ArbiterAPI
import ArbiterAccess
import ArbiterCore
import ArbiterLean
import ArbiterServer
import Foundation
import GRPCCore
import NIOCore
import NIOEmbedded
import Synchronization
import Testing

/// The lean protocol's access check: a hello frame names the connection's caller, and every call
/// is checked for its role before any work (docs/lean-protocol.md).
@Suite struct LeanAccessTests {
  typealias Answer = LeanCodecTests.Answer
  static let echo = Arbiter_V1_BenchmarkService.Method.Echo.descriptor
  static let profile = Arbiter_V1_ProfileService.Method.GetProfile.descriptor

  static func hello(_ credential: String) -> [UInt8] { LeanTestClient.hello(credential) }

  static func answer(_ stream: UInt32, _ code: RPCError.Code?, _ message: String = "", body: [UInt8] = []) -> Answer {
    Answer(
      kind: .response, stream: stream,
      head: LeanResponseHead(status: code?.rawValue ?? 0, message: message, requestId: ""), body: body)
  }

  @Test func callsWithoutAnAcceptedHelloAreUnauthenticatedBeforeAnyWork() throws {
    let calls = LeanCodecTests.Calls()
    let access = try Authenticator(configuration: AccessTests.configuration())
    let channel = try LeanCodecTests.handlerChannel(calls: calls, authenticator: access)
    let noHello =
      "no credentials: this connection has sent no accepted hello frame (type 3, stream 0) with an API key or token"
    var burst = LeanFrame.preamble
    burst += LeanCodecTests.request(stream: 1, Self.echo, message: [1])
    burst += Self.hello("not-a-key-this-server-knows")
    burst += LeanCodecTests.request(stream: 2, Self.echo, message: [2])
    try channel.writeInbound(LeanCodecTests.allocator.buffer(bytes: burst))
    #expect(
      try LeanCodecTests.answers(channel) == [
        Self.answer(1, .unauthenticated, noHello),
        Self.answer(0, .unauthenticated, "the API key is not one this server knows"),
        Self.answer(2, .unauthenticated, noHello),
      ])
    #expect(calls.value == 0, "no method ran")
    #expect(access.refusals.unauthenticated == 3 && access.refusals.permissionDenied == 0)
    #expect(channel.isActive, "a refused hello leaves the connection open")
    #expect(try channel.finish().isClean)
  }

  @Test func aHelloNamesTheCallerAndEachCallNeedsItsRole() throws {
    let calls = LeanCodecTests.Calls()
    let access = try Authenticator(configuration: AccessTests.configuration())
    let channel = try LeanCodecTests.handlerChannel(calls: calls, authenticator: access)
    var burst = LeanFrame.preamble + Self.hello(AccessTests.decideKey)
    burst += LeanCodecTests.request(stream: 1, Self.echo, message: [1, 2])
    burst += LeanCodecTests.request(stream: 2, Self.profile, message: [])
    try channel.writeInbound(LeanCodecTests.allocator.buffer(bytes: burst))
    #expect(
      try LeanCodecTests.answers(channel) == [
        Self.answer(0, nil),
        Self.answer(1, nil, body: [2, 1]),
        Self.answer(
          2, .permissionDenied,
          "'web-frontend' may not call /arbiter.v1.ProfileService/GetProfile: it needs the role profile-read, and "
            + "'web-frontend' has decide"),
      ])
    #expect(calls.value == 1, "the refused call did no work")
    #expect(access.refusals.permissionDenied == 1)
    // A second hello replaces the first: the operator may read profiles.
    try channel.writeInbound(
      LeanCodecTests.allocator.buffer(
        bytes: Self.hello(AccessTests.adminKey) + LeanCodecTests.request(stream: 3, Self.profile, message: [])))
    #expect(
      try LeanCodecTests.answers(channel) == [
        Self.answer(0, nil), Self.answer(3, .notFound, "customer 5 not found"),
      ])
    #expect(calls.value == 2)
    #expect(try channel.finish().isClean)
  }

  @Test func aConnectionsTokenStopsWorkingWhenItExpires() async throws {
    let clock = Mutex(Date())
    let access = try Authenticator(configuration: AccessTests.configuration(), now: { clock.withLock { $0 } })
    let token = try await AccessTests.token(roles: ["decide"], after: 60)
    // Verified once here, so that the handler finds it without leaving the (embedded) event loop.
    #expect(try await access.identify(credential: token[...]).name == "agent-7")
    let calls = LeanCodecTests.Calls()
    let channel = try LeanCodecTests.handlerChannel(calls: calls, authenticator: access)
    try channel.writeInbound(
      LeanCodecTests.allocator.buffer(
        bytes: LeanFrame.preamble + Self.hello(token) + LeanCodecTests.request(stream: 1, Self.echo, message: [1])))
    #expect(try LeanCodecTests.answers(channel) == [Self.answer(0, nil), Self.answer(1, nil, body: [1])])
    clock.withLock { $0 = $0.addingTimeInterval(61) }
    try channel.writeInbound(
      LeanCodecTests.allocator.buffer(bytes: LeanCodecTests.request(stream: 2, Self.echo, message: [2])))
    #expect(
      try LeanCodecTests.answers(channel) == [
        Self.answer(2, .unauthenticated, "the bearer token of 'agent-7' has expired")
      ])
    #expect(calls.value == 1)
    #expect(try channel.finish().isClean)
  }

  @Test func theDocumentedHelloIsWhatTheServerReadsAndAnswers() throws {
    let documented = try LeanCodecTests.documentedExample("Example with a hello")
    #expect(documented == LeanFrame.preamble + Self.hello("my-api-key-0123456"))
    let access = try Authenticator(
      configuration: AccessConfiguration(
        required: true, apiKeys: [.init(name: "docs", key: "my-api-key-0123456", roles: .decide)]))
    let channel = try LeanCodecTests.handlerChannel(calls: LeanCodecTests.Calls(), authenticator: access)
    try channel.writeInbound(LeanCodecTests.allocator.buffer(bytes: documented))
    let answer = try #require(try channel.readOutbound(as: ByteBuffer.self))
    let text = try String(contentsOfFile: TestSupport.repoRoot + "/docs/lean-protocol.md", encoding: .utf8)
    let quoted = try #require(text.firstMatch(of: /hello's answer, `([0-9a-f \n]+)`/)?.output.1)
    let bytes = quoted.split(whereSeparator: { $0 == " " || $0 == "\n" }).map { UInt8($0, radix: 16)! }
    #expect(Array(answer.readableBytesView) == bytes)
    #expect(try channel.finish().isClean)
  }

  @Test func aHelloOffStreamZeroIsAProtocolViolation() throws {
    let access = try Authenticator(configuration: AccessTests.configuration())
    let channel = try LeanCodecTests.handlerChannel(calls: LeanCodecTests.Calls(), authenticator: access)
    try channel.writeInbound(
      LeanCodecTests.allocator.buffer(bytes: LeanFrame.preamble + LeanTestClient.hello(AccessTests.adminKey, stream: 7))
    )
    let answers = try LeanCodecTests.answers(channel)
    #expect(
      answers == [
        Answer(
          kind: .error, stream: 0,
          head: LeanResponseHead(
            status: RPCError.Code.invalidArgument.rawValue,
            message: "a hello frame must be on stream 0, got stream 7",
            requestId: ""), body: [])
      ])
    #expect(!channel.isActive)
  }

  @Test func withoutRequiredCredentialsAHelloIsAcceptedUnchecked() throws {
    let calls = LeanCodecTests.Calls()
    let channel = try LeanCodecTests.handlerChannel(calls: calls)
    var burst = LeanFrame.preamble + Self.hello("anything")
    burst += LeanCodecTests.request(stream: 1, Self.profile, message: [])
    try channel.writeInbound(LeanCodecTests.allocator.buffer(bytes: burst))
    #expect(
      try LeanCodecTests.answers(channel) == [Self.answer(0, nil), Self.answer(1, .notFound, "customer 5 not found")])
    #expect(try channel.finish().isClean)
  }

  /// Over a real socket, on the server: a token's hello is verified off the event loop while the
  /// calls sent right behind it wait for it, in order; a forged token is refused.
  @Test(.timeLimit(.minutes(2))) func aTokenHelloOverTCPIsVerifiedBeforeTheCallsBehindIt() async throws {
    let server = try TestSupport.makeServer { $0.access = AccessTests.configuration() }
    let decide = "/arbiter.v1.DecisionService/Decide"
    let status = "/arbiter.v1.AdminService/GetStatus"
    try await withThrowingTaskGroup(of: Void.self) { group in
      group.addTask { try await server.runLeanServer(port: 0) }
      let lean = try await TestSupport.leanPort(of: server)
      let request: [UInt8] = try Arbiter_V1_DecideRequest.with {
        $0.customerID = 100_042
        $0.channel = .web
      }.serializedBytes()
      let token = try await AccessTests.token(roles: ["decide"])
      let client = try LeanTestClient(port: lean)
      var frames = LeanTestClient.hello(token)
      for k in 1...5 { frames += LeanTestClient.frame(stream: UInt32(k), method: decide, message: request) }
      frames += LeanTestClient.frame(stream: 6, method: status, message: [])
      client.send(frames)
      let hello = try #require(try client.read())
      #expect(hello.stream == 0 && hello.status == 0)
      for k in 1...5 {
        let answer = try #require(try client.read())
        #expect(answer.stream == UInt32(k) && answer.status == 0, "\(answer.message)")
      }
      let refused = try #require(try client.read())
      #expect(refused.stream == 6 && refused.status == RPCError.Code.permissionDenied.rawValue)
      #expect(refused.message.contains("needs the role admin"))

      // A forged token: its hello is refused, and so are the calls behind it.
      let forged = try await AccessTests.token(roles: ["decide"], key: "a different secret of thirty-two bytes")
      let other = try LeanTestClient(port: lean)
      other.send(LeanTestClient.hello(forged) + LeanTestClient.frame(stream: 1, method: decide, message: request))
      let badHello = try #require(try other.read())
      #expect(badHello.stream == 0 && badHello.status == RPCError.Code.unauthenticated.rawValue)
      #expect(badHello.message == "the bearer token is not valid: its signature does not verify")
      #expect(try other.read()?.status == RPCError.Code.unauthenticated.rawValue)
      #expect(server.authenticator.refusals == (unauthenticated: 2, permissionDenied: 1))
      group.cancelAll()
    }
  }
}
