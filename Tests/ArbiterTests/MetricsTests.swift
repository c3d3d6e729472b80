import ArbiterAPI
import ArbiterAccess
import ArbiterCore
import ArbiterHTTP
import ArbiterServer
import Foundation
import GRPCCore
import HTTPTypes
import Testing

/// `/metrics` in Prometheus' text format: requests by door, method and status with latency
/// histograms (recorded as they are answered), and what the server keeps (decisions by channel,
/// offers and outcomes, suppressions, pacing, the store, refusals, the live versions), behind
/// the admin role. A real Prometheus scrapes it in Tests/Web/test_prometheus.py.
@Suite struct MetricsTests {
  /// The samples of a text exposition: "name{labels}" → value.
  static func samples(_ text: String) -> [String: Double] {
    var samples: [String: Double] = [:]
    for line in text.split(separator: "\n") where !line.hasPrefix("#") {
      guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
      samples[String(line[..<space])] = value
    }
    return samples
  }

  @Test(.timeLimit(.minutes(2))) func everyDoorsRequestsAndTheServersFiguresAreExposed() async throws {
    let server = try TestSupport.makeServer { $0.access = AccessTests.configuration() }
    let admin: Metadata = ["authorization": "Bearer \(AccessTests.adminKey)"]
    let decide = Arbiter_V1_DecideRequest.with {
      $0.customerID = 100_042
      $0.channel = .contactCentre
    }
    try await withInProcessClient(server) { client in
      let decisions = Arbiter_V1_DecisionService.Client(wrapping: client)
      for _ in 0..<3 { _ = try await decisions.decide(decide, metadata: admin) }
      await expectStatus(.notFound, containing: "customer 5") {
        _ = try await decisions.decide(
          .with {
            $0.customerID = 5; $0.channel = .web
          }, metadata: admin)
      }
      await expectStatus(.unauthenticated, containing: "no credentials") { _ = try await decisions.decide(decide) }
    }
    // The lean door: a hello, two decisions, one refused for its role.
    try await withThrowingTaskGroup(of: Void.self) { group in
      group.addTask { try await server.runLeanServer(port: 0) }
      let lean = try LeanTestClient(port: try await TestSupport.leanPort(of: server))
      let bytes: [UInt8] = try decide.serializedBytes()
      lean.send(
        LeanTestClient.hello(AccessTests.decideKey)
          + LeanTestClient.frame(stream: 1, method: "/arbiter.v1.DecisionService/Decide", message: bytes)
          + LeanTestClient.frame(stream: 2, method: "/arbiter.v1.DecisionService/Decide", message: bytes)
          + LeanTestClient.frame(stream: 3, method: "/arbiter.v1.ProfileService/GetProfile", message: []))
      for _ in 0..<4 { _ = try #require(try lean.read()) }
      group.cancelAll()
    }
    let http = HTTPTestClient(api: server.httpAPI, webRoot: nil)
    let key: HTTPFields = [.authorization: "Bearer \(AccessTests.adminKey)"]
    let decided = try await http.post(
      "/v1/decide", #"{"customerId":"100007","channel":"CHANNEL_WEB"}"#, headers: key)
    #expect(decided.status == 200)
    #expect(try await http.get("/metrics").status == 401, "the figures need the admin role")
    #expect(try await http.get("/metrics", headers: [.authorization: "Bearer \(AccessTests.decideKey)"]).status == 403)

    let scraped = try await http.get("/metrics", headers: key)
    #expect(scraped.status == 200)
    #expect(scraped.headers[.contentType] == "text/plain; version=0.0.4; charset=utf-8")
    let text = String(decoding: scraped.body, as: UTF8.self)
    let samples = Self.samples(text)
    func value(_ name: String) -> Double? { samples[name] }
    #expect(value(#"arbiter_requests_total{door="grpc",method="arbiter.v1.DecisionService/Decide",code="OK"}"#) == 3)
    #expect(
      value(#"arbiter_requests_total{door="grpc",method="arbiter.v1.DecisionService/Decide",code="NOT_FOUND"}"#) == 1)
    #expect(
      value(#"arbiter_requests_total{door="grpc",method="arbiter.v1.DecisionService/Decide",code="UNAUTHENTICATED"}"#)
        == 1)
    #expect(value(#"arbiter_requests_total{door="lean",method="arbiter.v1.DecisionService/Decide",code="OK"}"#) == 2)
    #expect(
      value(
        #"arbiter_requests_total{door="lean",method="arbiter.v1.ProfileService/GetProfile",code="PERMISSION_DENIED"}"#)
        == 1)
    #expect(value(#"arbiter_requests_total{door="http",method="POST /v1/decide",code="200"}"#) == 1)
    #expect(value(#"arbiter_requests_total{door="http",method="GET /metrics",code="401"}"#) == 1)
    // Latency: a histogram per door and method, in seconds, its count the requests'.
    #expect(
      value(#"arbiter_request_duration_seconds_count{door="grpc",method="arbiter.v1.DecisionService/Decide"}"#) == 5)
    #expect(
      value(
        #"arbiter_request_duration_seconds_bucket{door="lean",method="arbiter.v1.DecisionService/Decide",le="+Inf"}"#)
        == 2)
    #expect(
      text.contains(
        #"arbiter_request_duration_seconds_bucket{door="grpc",method="arbiter.v1.DecisionService/Decide",le="0.0025"}"#)
    )
    // What the server keeps: 3 + 2 contact-centre decisions and 1 on the web.
    #expect(value(#"arbiter_decisions_total{channel="contact-centre"}"#) == 5)
    #expect(value(#"arbiter_decisions_total{channel="web"}"#) == 1)
    #expect(value("arbiter_store_customers") == 3_000)
    #expect(value(#"arbiter_access_refusals_total{reason="unauthenticated"}"#) == 2)
    #expect(value(#"arbiter_access_refusals_total{reason="permission_denied"}"#) == 2)
    #expect(
      value(
        #"arbiter_bundle_info{role="live",bundle="demo",version="1",catalogue="\#(server.live.snapshot.engine.versions.catalogueVersion)"}"#
      ) == 1)
    let made = samples.filter { $0.key.hasPrefix("arbiter_offers_made_total{") }.values.reduce(0, +)
    #expect(made == Double(server.live.log.offerTallies().map(\.made).reduce(0, +)) && made > 0)
    #expect(samples.keys.contains { $0.hasPrefix("arbiter_suppressions_total{reason=") })
    #expect(samples.keys.contains { $0.hasPrefix("arbiter_model_info{offer=") })
    #expect(text.contains("# TYPE arbiter_decisions_total counter"))
    #expect(text.contains("# HELP arbiter_decisions_total Decisions made (and logged), by channel."))

    // A second scrape after more decisions: the counters move by what happened, no more.
    try await withInProcessClient(server) { client in
      _ = try await Arbiter_V1_DecisionService.Client(wrapping: client).decide(decide, metadata: admin)
    }
    let again = Self.samples(String(decoding: try await http.get("/metrics", headers: key).body, as: UTF8.self))
    #expect(again[#"arbiter_decisions_total{channel="contact-centre"}"#] == 6)
    #expect(again[#"arbiter_requests_total{door="http",method="GET /metrics",code="200"}"#] == 1)
  }
}
