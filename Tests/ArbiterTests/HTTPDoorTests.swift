import ArbiterAPI
import ArbiterCore
import ArbiterDecisioning
import ArbiterHTTP
import ArbiterServer
import Foundation
import HTTPTypes
import SwiftProtobuf
import Testing

/// The HTTP/JSON door through its router, in process: canonical JSON both ways, errors with the
/// gRPC code and its HTTP status, request ids, CORS, the body limit.
@Suite struct HTTPDoorTests {
  let server: ArbiterServer
  let client: HTTPTestClient
  let customer: UInt64

  init() throws {
    (server, client) = try HTTPTestClient.makeDoorServer()
    // A customer the contact centre has at least two offers for.
    let engine = server.live.snapshot.engine
    customer = server.store.customerIds().first { id in
      (try? engine.decide(DecisionRequest(customerId: id, channel: .contactCentre), decisionId: "probe"))
        .map { $0.offers.count >= 2 } ?? false
    }!
  }

  @Test func decideAnswersInCanonicalJSONAndEchoesTheRequestId() async throws {
    let answer = try await client.post(
      "/v1/decide", #"{"customerId":"\#(customer)","channel":"CHANNEL_CONTACT_CENTRE","maxOffers":2}"#,
      headers: [HTTPField.Name("X-Request-Id")!: "call-7"])
    #expect(answer.status == 200)
    #expect(answer.headers[.contentType] == "application/json")
    #expect(answer.headers[HTTPField.Name("X-Request-Id")!] == "call-7")
    let response = try Arbiter_V1_DecideResponse(jsonUTF8Bytes: answer.body)
    #expect(response.customerID == customer)
    #expect(response.requestID == "call-7")
    #expect((1...2).contains(response.offers.count))
    #expect(response.offers.allSatisfy { !$0.treatment.agentScript.isEmpty })
    // 64-bit integers as strings, enums by name: protobuf's canonical JSON.
    #expect(answer.text.contains(#""customerId":"\#(customer)""#))
    #expect(answer.text.contains(#""channel":"CHANNEL_CONTACT_CENTRE""#))
    // Proto field names and numbers are read too.
    let snake = try await client.post("/v1/decide", #"{"customer_id":\#(customer),"channel":3}"#)
    #expect(snake.status == 200, "\(snake.text)")
    // Without a request id, the server makes one and uses it for both.
    let own = try await client.post("/v1/decide", #"{"customerId":"\#(customer)","channel":"CHANNEL_WEB"}"#)
    let made = try #require(own.headers[HTTPField.Name("X-Request-Id")!])
    #expect(try Arbiter_V1_DecideResponse(jsonUTF8Bytes: own.body).requestID == made)
  }

  @Test func badRequestsGetTheGRPCCodeTheirHTTPStatusAndTheField() async throws {
    let id = "\"\(customer)\""
    let cases: [(body: String, status: Int, code: String, message: String)] = [
      (#"{"customerId":\#(id),"chanel":"CHANNEL_WEB"}"#, 400, "INVALID_ARGUMENT", "unknown field 'chanel'"),
      (#"{"customerId":\#(id),"channel":"CHANNEL_WEB","maxOffers":"many"}"#, 400, "INVALID_ARGUMENT", "maxOffers: "),
      (#"{"customerId":\#(id),"channel":"CHANNEL_TV"}"#, 400, "INVALID_ARGUMENT", "channel: not one of the enum's"),
      (#"{"customerId":-4,"channel":"CHANNEL_WEB"}"#, 400, "INVALID_ARGUMENT", "customerId: "),
      (#"{"customerId":\#(id)}"#, 400, "INVALID_ARGUMENT", "channel is required"),
      (#"{"customerId":\#(id),"channel":"CHANNEL_WEB","maxOffers":51}"#, 400, "INVALID_ARGUMENT", "max_offers"),
      (#"{"customerId":"1","channel":"CHANNEL_WEB"}"#, 404, "NOT_FOUND", "customer 1 not found"),
      (#"{"customerId":\#(id),"channel":"CHANNEL_WEB""#, 400, "INVALID_ARGUMENT", "the body is not JSON"),
      (#"[1,2]"#, 400, "INVALID_ARGUMENT", "must be a JSON object"),
      (#"{"customerId":\#(id),"channel":"CHANNEL_WEB","context":{"page":7}}"#, 400, "INVALID_ARGUMENT", "context: "),
    ]
    for bad in cases {
      let answer = try await client.post("/v1/decide", bad.body)
      #expect(answer.status == bad.status, "\(bad.body): \(answer.text)")
      #expect(answer.json["code"] as? String == bad.code, "\(bad.body): \(answer.text)")
      #expect(answer.json["httpStatus"] as? Int == bad.status)
      #expect((answer.json["message"] as? String)?.contains(bad.message) == true, "\(bad.body): \(answer.text)")
    }
  }

  @Test func unknownPathsMethodsTypesAndOversizedBodiesAreRefusedAsJSON() async throws {
    let missing = try await client.get("/v1/nothing-here")
    #expect(missing.status == 404)
    #expect(missing.json["code"] as? String == "NOT_FOUND")
    let wrongMethod = try await client.get("/v1/decide")
    #expect(wrongMethod.status == 405)
    #expect(wrongMethod.json["code"] as? String == "UNIMPLEMENTED")
    let form = try await client.post(
      "/v1/decide", "customerId=1", headers: [.contentType: "application/x-www-form-urlencoded"])
    #expect(form.status == 415)
    let big = try await client.post(
      "/v1/outcomes", #"{"outcomes":[{"decisionId":"\#(String(repeating: "x", count: 5_000))"}]}"#)
    #expect(big.status == 413)
    #expect(big.json["code"] as? String == "RESOURCE_EXHAUSTED")
    #expect(big.headers[HTTPField.Name("X-Request-Id")!] != nil)
  }

  @Test func onlyConfiguredOriginsGetCORSHeaders() async throws {
    let preflight = try await client.call(
      .options, "/v1/personalize",
      headers: [.origin: "https://bank.example", .accessControlRequestMethod: "POST"])
    #expect(preflight.status == 204)
    #expect(preflight.headers[.accessControlAllowOrigin] == "https://bank.example")
    #expect(preflight.headers[.accessControlAllowHeaders]?.contains("Content-Type") == true)
    let allowed = try await client.get("/v1/status", headers: [.origin: "https://bank.example"])
    #expect(allowed.headers[.accessControlAllowOrigin] == "https://bank.example")
    let other = try await client.get("/v1/status", headers: [.origin: "https://evil.example"])
    #expect(other.status == 200)
    #expect(other.headers[.accessControlAllowOrigin] == nil)
  }

  @Test func anOutcomeRecordedOverHTTPShowsInTheProfile() async throws {
    let decided = try Arbiter_V1_DecideResponse(
      jsonUTF8Bytes: try await client.post(
        "/v1/decide", #"{"customerId":"\#(customer)","channel":"CHANNEL_CONTACT_CENTRE"}"#
      ).body)
    let offer = try #require(decided.offers.first).offerID
    let recorded = try await client.post(
      "/v1/outcomes",
      #"{"outcomes":[{"decisionId":"\#(decided.decisionID)","offerId":"\#(offer)","outcome":"OUTCOME_ACCEPT"}]}"#)
    #expect(recorded.status == 200, "\(recorded.text)")
    #expect(recorded.json["recorded"] as? Int == 1)
    let profile = try Arbiter_V1_CustomerProfile(
      jsonUTF8Bytes: try await client.get("/v1/customers/\(customer)/profile?maxInteractions=5").body)
    #expect(profile.recentInteractions.first?.outcome == .accept)
    #expect(profile.recentInteractions.first?.offerID == offer)
    let badId = try await client.get("/v1/customers/abc/profile")
    #expect(badId.status == 400)
    #expect((badId.json["message"] as? String)?.hasPrefix("customerId: 'abc'") == true)
    let unknown = try await client.get("/v1/customers/7/profile")
    #expect(unknown.status == 404)
  }

  @Test func healthStatusAndTheNoOpBaselineAnswer() async throws {
    let health = try await client.get("/health")
    #expect(health.text == #"{"status":"SERVING"}"#)
    let status = try Arbiter_V1_ServerStatus(jsonUTF8Bytes: try await client.get("/v1/status").body)
    #expect(status.offers == 22)
    let echo = try await client.post("/v1/benchmark/echo", #"{"customerId":"1","channel":"CHANNEL_WEB"}"#)
    #expect(echo.status == 200)
    #expect(try Arbiter_V1_DecideResponse(jsonUTF8Bytes: echo.body).decisionID == "echo")
  }

  @Test func theDashboardCountsDecisionsPerDoorAndSuppressions() async throws {
    let before = try Arbiter_V1_DashboardSnapshot(jsonUTF8Bytes: try await client.get("/v1/dashboard").body)
    for _ in 0..<5 {
      _ = try await client.post(
        "/v1/decide", #"{"customerId":"\#(customer)","channel":"CHANNEL_WEB","maxOffers":1}"#)
    }
    let after = try Arbiter_V1_DashboardSnapshot(jsonUTF8Bytes: try await client.get("/v1/dashboard").body)
    let http = try #require(after.doors.first { $0.door == "http" })
    #expect(http.decisions == (before.doors.first { $0.door == "http" }?.decisions ?? 0) + 5)
    #expect(http.perSecond.count == 120)
    #expect(http.perSecond.reduce(0, +) >= 1)
    #expect(http.p50Micros > 0 && http.p99Micros >= http.p50Micros)
    #expect(after.offers.reduce(0) { $0 + $1.made } == before.offers.reduce(0) { $0 + $1.made } + 5)
    let suppressed = after.suppression.reduce(0) { $0 + $1.count } - before.suppression.reduce(0) { $0 + $1.count }
    // Five decisions of one offer from 22 leave at least 21 × 5 offers not made, each counted once.
    #expect(suppressed == 5 * 21)
    #expect(after.bundle.bundleName == "demo")
  }
}
