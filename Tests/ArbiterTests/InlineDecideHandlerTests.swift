import ArbiterAPI
import ArbiterCore
import ArbiterDecisioning
import ArbiterHTTP
import ArbiterServer
import Foundation
import HTTPTypes
import NIOCore
import NIOEmbedded
import NIOHTTP1
import SwiftProtobuf
import Testing

/// Decide answered on the event loop (``InlineDecideHandler``) in an `EmbeddedChannel`: the same
/// answers as the router's, everything else passed on, responses kept in order.
@Suite struct InlineDecideHandlerTests {
  let server: ArbiterServer
  let client: HTTPTestClient
  let customer: UInt64

  init() throws {
    (server, client) = try HTTPTestClient.makeDoorServer()
    customer = server.store.customerIds().first!
  }

  struct Answer {
    var status: Int
    var headers: HTTPHeaders
    var body: [UInt8]
    var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] ?? [:] }
  }

  func makeChannel() throws -> EmbeddedChannel {
    EmbeddedChannel(handler: InlineDecideHandler(api: server.httpAPI, serverName: "arbiter"))
  }

  static func head(
    _ method: HTTPMethod = .POST, _ uri: String = "/v1/decide", version: HTTPVersion = .http1_1,
    _ headers: [(String, String)] = [("Content-Type", "application/json")]
  ) -> HTTPRequestHead {
    HTTPRequestHead(version: version, method: method, uri: uri, headers: HTTPHeaders(headers))
  }

  /// Sends a request (its body in `chunks` pieces) and reads the answer written back.
  func send(
    _ body: String, on channel: EmbeddedChannel, head: HTTPRequestHead = Self.head(), chunks: Int = 1
  ) throws -> Answer? {
    try channel.writeInbound(HTTPServerRequestPart.head(head))
    let bytes = Array(body.utf8), size = max(1, (bytes.count + chunks - 1) / chunks)
    for start in stride(from: 0, to: bytes.count, by: size) {
      try channel.writeInbound(
        HTTPServerRequestPart.body(ByteBuffer(bytes: bytes[start..<min(start + size, bytes.count)])))
    }
    try channel.writeInbound(HTTPServerRequestPart.end(nil))
    guard case .head(let response) = try channel.readOutbound(as: HTTPServerResponsePart.self) else { return nil }
    var answer = Answer(status: Int(response.status.code), headers: response.headers, body: [])
    while let part = try channel.readOutbound(as: HTTPServerResponsePart.self) {
      switch part {
      case .body(.byteBuffer(let buffer)): answer.body += buffer.readableBytesView
      case .end: return answer
      default: Issue.record("unexpected part \(part)")
      }
    }
    Issue.record("no end")
    return answer
  }

  /// The requests compared: Decide for `id` (a quoted customer id) with each content type, CORS
  /// origin and request id, and each kind of bad body.
  static func decideCases(id: String) -> [(body: String, headers: [(String, String)], chunks: Int)] {
    let good = #"{"customerId":\#(id),"channel":"CHANNEL_WEB","maxOffers":2}"#
    return [
      (good, [("Content-Type", "application/json"), ("X-Request-Id", "page-9")], 1),
      (good, [("Content-Type", "application/json; charset=utf-8"), ("Origin", "https://bank.example")], 5),
      (good, [("Content-Type", "application/json"), ("Origin", "https://elsewhere.example")], 1),
      (good, [("Content-Type", "text/plain")], 1),  // a beacon's
      (good, [("Content-Type", "application/x-www-form-urlencoded"), ("X-Request-Id", "form")], 1),
      (#"{"customerId":\#(id),"chanel":"CHANNEL_WEB"}"#, [("Content-Type", "application/json")], 1),
      (#"{"customerId":"99999999","channel":"CHANNEL_WEB"}"#, [("Content-Type", "application/json")], 1),
      (#"{"customerId":\#(id)"#, [("Content-Type", "application/json")], 1),
      (String(repeating: " ", count: 5_000) + good, [("Content-Type", "application/json")], 3),
    ]
  }

  static let echoBodies = [#"{"customerId":"100001","channel":"CHANNEL_WEB"}"#, #"{"customerId":"100001"}"#, "[]"]

  @Test func answersDecideAsTheRouterDoes() async throws {
    // The router's answers first, for one customer; then the handler's, for another of the same
    // id length (an EmbeddedChannel must not be used across an await: it stays on its thread).
    let ids = Array(server.store.customerIds().prefix(2))
    #expect(String(ids[0]).count == String(ids[1]).count)
    var routedAnswers: [HTTPTestClient.Answer] = []
    for request in Self.decideCases(id: "\"\(ids[0])\"") {
      var fields = HTTPFields()
      for (name, value) in request.headers { fields[HTTPField.Name(name)!] = value }
      routedAnswers.append(try await client.call(.post, "/v1/decide", body: request.body, headers: fields))
    }
    var routedEchoes: [HTTPTestClient.Answer] = []
    for body in Self.echoBodies { routedEchoes.append(try await client.post("/v1/benchmark/echo", body)) }
    try compareInline(with: routedAnswers, echoes: routedEchoes, id: "\"\(ids[1])\"")
  }

  func compareInline(with routedAnswers: [HTTPTestClient.Answer], echoes: [HTTPTestClient.Answer], id: String) throws {
    let channel = try makeChannel()
    let cases = Self.decideCases(id: id)
    #expect(cases.count == 9 && routedAnswers.count == 9)
    for (k, (request, routed)) in zip(cases, routedAnswers).enumerated() {
      let inline = try #require(
        try send(
          request.body, on: channel, head: Self.head(.POST, "/v1/decide", request.headers), chunks: request.chunks))
      #expect(inline.status == routed.status, "case \(k)")
      for name in ["Content-Type", "Access-Control-Allow-Origin", "Access-Control-Expose-Headers", "Vary", "Allow"] {
        #expect(inline.headers.first(name: name) == routed.headers[HTTPField.Name(name)!], "case \(k): \(name)")
      }
      if let given = request.headers.first(where: { $0.0 == "X-Request-Id" })?.1 {
        #expect(inline.headers.first(name: "X-Request-Id") == given, "case \(k)")
      } else {
        #expect(inline.headers.first(name: "X-Request-Id")?.hasPrefix("h-") == true, "case \(k)")
      }
      #expect(inline.headers.first(name: "Content-Length") == String(inline.body.count))
      #expect(inline.headers.first(name: "Server") == "arbiter")
      #expect(inline.headers.first(name: "Date")?.hasSuffix(" GMT") == true)
      if routed.status == 200 {
        // Decisions for two customers: what was asked is answered alike.
        let a = try Arbiter_V1_DecideResponse(jsonUTF8Bytes: inline.body)
        let b = try Arbiter_V1_DecideResponse(jsonUTF8Bytes: routed.body)
        #expect(a.channel == b.channel && a.versions == b.versions, "case \(k)")
        #expect("\"\(a.customerID)\"" == id, "case \(k)")
        // (the contact policy then holds back what the earlier cases showed this customer)
        #expect(a.offers.count <= 2 && (k > 0 || !a.offers.isEmpty), "case \(k)")
        #expect(a.requestID == inline.headers.first(name: "X-Request-Id"), "case \(k)")
      } else {
        #expect(inline.body == routed.body, "case \(k): \(String(decoding: inline.body, as: UTF8.self))")
      }
    }
    // The no-op baseline answers the same bytes both ways.
    for (body, routed) in zip(Self.echoBodies, echoes) {
      let inline = try #require(try send(body, on: channel, head: Self.head(.POST, "/v1/benchmark/echo")))
      #expect(inline.status == routed.status && inline.body == routed.body, "echo \(body)")
    }
  }

  /// A Decide that waited past `http.max-queue-delay` since its event loop's pass began is shed
  /// with 429, saying so; once the loop has run its tasks (the pass is over) the next is decided.
  /// (An embedded loop runs its tasks only when told, so the pass lasts as long as the test says.)
  @Test func aDecideThatWaitedPastTheQueueDelayIsShed() throws {
    let server = try TestSupport.makeServer { $0.http.connections.maxQueueDelay = .milliseconds(1) }
    let channel = EmbeddedChannel(handler: InlineDecideHandler(api: server.httpAPI, serverName: "arbiter"))
    let body = #"{"customerId":"100042","channel":"CHANNEL_WEB","maxOffers":2}"#
    #expect(try send(body, on: channel)?.status == 200)
    Thread.sleep(forTimeInterval: 0.005)  // the same pass, 5 ms on
    let shed = try #require(try send(body, on: channel))
    #expect(shed.status == 429)
    #expect(
      shed.json["message"] as? String
        == "the http door is behind: this request waited past its limit of 1.0 ms; try again later")
    channel.embeddedEventLoop.run()  // the pass ends
    #expect(try send(body, on: channel)?.status == 200)
    #expect(server.metrics.inFlight(of: "http")?.shed == 1)
  }

  @Test func passesOtherRequestsOnAndKeepsResponsesInOrder() throws {
    let channel = try makeChannel()
    let decide = #"{"customerId":"\#(customer)","channel":"CHANNEL_WEB"}"#
    // Not Decide, or a Decide the router must see: passed on whole, nothing answered here.
    let passed: [HTTPRequestHead] = [
      Self.head(.GET, "/v1/status", []),
      Self.head(.POST, "/v1/decide?debug=1"),
      Self.head(.POST, "/v1/decide", version: .http1_0),
      Self.head(.POST, "/v1/decide", [("Content-Type", "application/json"), ("Connection", "close")]),
      Self.head(.POST, "/v1/decide", [("Content-Type", "application/json"), ("Expect", "100-continue")]),
    ]
    for head in passed {
      #expect(!InlineDecideHandler.isAnsweredHere(head), "\(head.uri)")
      try channel.writeInbound(HTTPServerRequestPart.head(head))
      try channel.writeInbound(HTTPServerRequestPart.body(ByteBuffer(string: decide)))
      try channel.writeInbound(HTTPServerRequestPart.end(nil))
      guard case .head(let forwarded) = try channel.readInbound(as: HTTPServerRequestPart.self) else {
        Issue.record("\(head.uri) not passed on")
        continue
      }
      #expect(forwarded == head)
      guard case .body = try channel.readInbound(as: HTTPServerRequestPart.self),
        case .end = try channel.readInbound(as: HTTPServerRequestPart.self)
      else { Issue.record("\(head.uri): body and end not passed on"); continue }
      #expect(try channel.readOutbound(as: HTTPServerResponsePart.self) == nil)
    }
    // A plain Decide pipelined behind them waits its turn: the router answers it too...
    try channel.writeInbound(HTTPServerRequestPart.head(Self.head()))
    try channel.writeInbound(HTTPServerRequestPart.end(nil))
    guard case .head = try channel.readInbound(as: HTTPServerRequestPart.self) else {
      Issue.record("a Decide behind passed requests was answered out of order")
      return
    }
    _ = try channel.readInbound(as: HTTPServerRequestPart.self)
    // ...until the router has ended all six responses; then Decide is answered here again.
    for _ in 0..<6 {
      try channel.writeOutbound(HTTPServerResponsePart.head(HTTPResponseHead(version: .http1_1, status: .ok)))
      try channel.writeOutbound(HTTPServerResponsePart.end(nil))
      _ = try channel.readOutbound(as: HTTPServerResponsePart.self)
      _ = try channel.readOutbound(as: HTTPServerResponsePart.self)
    }
    let answer = try #require(try send(decide, on: channel))
    #expect(answer.status == 200)
    #expect(try channel.readInbound(as: HTTPServerRequestPart.self) == nil)
  }

  @Test func aBodyOverTheLimitIsRefusedAndTheConnectionServesTheNext() throws {
    let channel = try makeChannel()
    let decide = #"{"customerId":"\#(customer)","channel":"CHANNEL_WEB"}"#
    let over = try #require(
      try send(String(repeating: " ", count: 4_097 - decide.utf8.count) + decide, on: channel, chunks: 7))
    #expect(over.status == 413)
    #expect(over.json["code"] as? String == "RESOURCE_EXHAUSTED")
    let atLimit = try #require(
      try send(String(repeating: " ", count: 4_096 - decide.utf8.count) + decide, on: channel, chunks: 7))
    #expect(atLimit.status == 200)
  }

  /// A graceful shutdown waits for a Decide being read: the quiesce event (on which Hummingbird
  /// closes an idle connection) is passed on once it is answered, at once when none is.
  @Test func aShutdownWaitsForTheDecideBeingRead() throws {
    let channel = try makeChannel()
    var seen = 0
    try channel.pipeline.syncOperations.addHandler(QuiesceCounter { seen += 1 })
    try channel.writeInbound(HTTPServerRequestPart.head(Self.head()))
    channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
    #expect(seen == 0)
    try channel.writeInbound(HTTPServerRequestPart.body(ByteBuffer(string: #"{"customerId":"\#(customer)","#)))
    #expect(seen == 0)
    try channel.writeInbound(HTTPServerRequestPart.body(ByteBuffer(string: #""channel":"CHANNEL_WEB"}"#)))
    try channel.writeInbound(HTTPServerRequestPart.end(nil))
    guard case .head(let response) = try channel.readOutbound(as: HTTPServerResponsePart.self) else {
      Issue.record("no answer")
      return
    }
    #expect(response.status == .ok)
    #expect(seen == 1)
    channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
    #expect(seen == 2)
  }

  /// Counts the quiesce events that reach it.
  final class QuiesceCounter: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    let onQuiesce: () -> Void
    init(_ onQuiesce: @escaping () -> Void) { self.onQuiesce = onQuiesce }
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
      if event is ChannelShouldQuiesceEvent { onQuiesce() }
      context.fireUserInboundEventTriggered(event)
    }
  }

  @Test func theDateFieldIsIMFFixdate() {
    #expect(HTTPDateField.format(secondsSinceEpoch: 0) == "Thu, 01 Jan 1970 00:00:00 GMT")
    #expect(HTTPDateField.format(secondsSinceEpoch: 1_796_132_126) == "Tue, 01 Dec 2026 13:35:26 GMT")
  }
}
