import ArbiterAPI
import ArbiterCore
import ArbiterDecisioning
import ArbiterModels
import ArbiterServer
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import HTTPTypes
import Testing

/// Every door under pressure: work in flight is bounded (past it, RESOURCE_EXHAUSTED at once),
/// a request already past its deadline is refused before any work, a decision out of time
/// answers with the catalogue's fallback offers, and a gRPC message over the limit is refused
/// naming the limit.
@Suite(.serialized) struct UnderPressureTests {
  static let decide = "/arbiter.v1.DecisionService/Decide"

  static func decideBytes(_ customer: UInt64 = 100_042) throws -> [UInt8] {
    try Arbiter_V1_DecideRequest.with {
      $0.customerID = customer; $0.channel = .web; $0.maxOffers = 3
    }.serializedBytes()
  }

  /// A raw HTTP/1.1 keep-alive `POST /v1/decide` (answered on the event loop), with `headers`.
  static func httpDecide(_ headers: String = "") -> [UInt8] {
    let body = #"{"customerId":"100042","channel":"CHANNEL_WEB","maxOffers":3}"#
    return Array(
      ("POST /v1/decide HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\(headers)"
        + "Content-Length: \(body.utf8.count)\r\n\r\n\(body)").utf8)
  }

  /// The next HTTP response on `socket`: its status and body (by Content-Length).
  static func readHTTP(_ socket: RawSocket, buffer: inout [UInt8]) throws -> (status: Int, body: String) {
    var chunk = [UInt8](repeating: 0, count: 65_536)
    while true {
      let text = String(decoding: buffer, as: UTF8.self)
      if let headEnd = text.range(of: "\r\n\r\n") {
        let head = String(text[..<headEnd.lowerBound])
        let length =
          head.components(separatedBy: "\r\n").first { $0.lowercased().hasPrefix("content-length:") }
          .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) } ?? 0
        let headBytes = text[..<headEnd.upperBound].utf8.count
        if buffer.count >= headBytes + length {
          let body = String(decoding: buffer[headBytes..<(headBytes + length)], as: UTF8.self)
          buffer.removeFirst(headBytes + length)
          return (Int(head.split(separator: " ")[1])!, body)
        }
      }
      let got = chunk.withUnsafeMutableBytes { recv(socket.fd, $0.baseAddress, 65_536, 0) }
      guard got > 0 else { throw TestFailure("the connection closed before a whole response") }
      buffer += chunk[0..<got]
    }
  }

  // MARK: load shedding

  @Test(.timeLimit(.minutes(2))) func eachDoorShedsPastItsInFlightBoundAndServesOnceThereIsRoom() async throws {
    let server = try TestSupport.makeServer {
      $0.lean.connections.maxInFlight = 1
      $0.http.connections.maxInFlight = 1
      $0.grpc.connections.maxInFlight = 1
    }
    let grpc = server.makeGRPCServer()
    try await withThrowingTaskGroup(of: Void.self) { group in
      group.addTask { try await server.runLeanServer(port: 0) }
      group.addTask { try await server.httpService(port: 0).run() }
      group.addTask { try await grpc.serve() }
      let leanPort = try await TestSupport.leanPort(of: server)
      let httpPort = try await TestSupport.httpPort(of: server)
      let grpcAddress = try #require(try await grpc.listeningAddress?.ipv4)
      let bounds = try ["lean", "http", "grpc"].map { try #require(server.metrics.inFlight(of: $0)) }
      // One request in flight on every door (its place taken here), so the next is shed.
      for bound in bounds { #expect(bound.admit()) }

      let lean = try LeanTestClient(port: leanPort)
      lean.send(LeanTestClient.frame(stream: 1, method: Self.decide, requestId: "r1", message: try Self.decideBytes()))
      let shed = try #require(try lean.read())
      #expect(shed.status == 8 && shed.requestId == "r1", "RESOURCE_EXHAUSTED: \(shed)")
      #expect(shed.message == "the lean door has its limit of 1 requests in flight; try again later")

      let http = try RawSocket(port: httpPort)
      var buffer: [UInt8] = []
      http.send(Self.httpDecide())
      let refused = try Self.readHTTP(http, buffer: &buffer)
      #expect(refused.status == 429, "\(refused)")
      #expect(refused.body.contains(#""code":"RESOURCE_EXHAUSTED""#) && refused.body.contains("limit of 1 requests"))
      let routed = try await HTTPTestClient(api: server.httpAPI).get("/v1/status")
      #expect(routed.status == 429 && routed.text.contains("limit of 1 requests in flight"), "\(routed.text)")

      try await withGRPCClient(
        transport: .http2NIOPosix(
          target: .ipv4(address: grpcAddress.host, port: grpcAddress.port), transportSecurity: .plaintext)
      ) { client in
        let decisions = Arbiter_V1_DecisionService.Client(wrapping: client)
        await expectStatus(.resourceExhausted, containing: "the grpc door has its limit of 1 requests in flight") {
          _ = try await decisions.decide(
            .with {
              $0.customerID = 100_042; $0.channel = .web
            })
        }
        // A stream a client keeps open is not counted: events are taken while the bound is full.
        let acks = try await Arbiter_V1_ProfileService.Client(wrapping: client).ingestEvents(
          requestProducer: { writer in try await writer.write(.with { $0.events = [] }) },
          onResponse: { response in
            var count = 0
            for try await _ in response.messages { count += 1 }
            return count
          })
        #expect(acks == 1)
        for bound in bounds {
          #expect(bound.shed >= 1, "\(bound.door) counts what it shed")
          bound.release()
        }
        // With room again, every door serves (and gives the place back once answered).
        let decision = try await decisions.decide(
          .with {
            $0.customerID = 100_042; $0.channel = .web
          })
        #expect(decision.customerID == 100_042)
      }
      lean.send(LeanTestClient.frame(stream: 2, method: Self.decide, message: try Self.decideBytes()))
      #expect(try lean.read()?.status == 0)
      http.send(Self.httpDecide())
      #expect(try Self.readHTTP(http, buffer: &buffer).status == 200)
      for bound in bounds { #expect(bound.inFlightNow == 0, "\(bound.door) gave its places back") }
      grpc.beginGracefulShutdown()
      group.cancelAll()
    }
  }

  @Test(.timeLimit(.minutes(2))) func aLeanBurstPastTheBoundIsPartlyShedAndEveryFrameAnswered() async throws {
    let server = try TestSupport.makeServer { $0.lean.connections.maxInFlight = 4 }
    try await withThrowingTaskGroup(of: Void.self) { group in
      group.addTask { try await server.runLeanServer(port: 0) }
      let client = try LeanTestClient(port: try await TestSupport.leanPort(of: server))
      var frames: [UInt8] = []
      for k in 1...60 {
        frames += LeanTestClient.frame(stream: UInt32(k), method: Self.decide, message: try Self.decideBytes())
      }
      client.send(frames)
      var answered = 0, shed = 0
      for _ in 1...60 {
        let response = try #require(try client.read())
        if response.status == 8 {
          shed += 1
          #expect(response.message.contains("limit of 4 requests in flight"))
        } else {
          #expect(response.status == 0, "\(response)")
          answered += 1
        }
      }
      #expect(answered >= 4 && shed > 0, "a burst of 60 past a bound of 4: \(answered) answered, \(shed) shed")
      #expect(server.metrics.inFlight(of: "lean")?.shed == UInt64(shed))
      #expect(server.metrics.inFlight(of: "lean")?.inFlightNow == 0)
      group.cancelAll()
    }
  }

  /// A lean burst that takes longer to decide than the door lets a request wait: what waited
  /// past the limit behind its burst is shed at once (saying so), the rest decided, every frame
  /// answered; the next burst starts afresh.
  @Test(.timeLimit(.minutes(2))) func aLeanBurstPastItsQueueDelayIsShedByTimeWaited() async throws {
    let server = try TestSupport.makeServer {
      $0.lean.connections.maxQueueDelay = .milliseconds(1)
      $0.lean.connections.maxInFlight = 10_000
    }
    try await withThrowingTaskGroup(of: Void.self) { group in
      group.addTask { try await server.runLeanServer(port: 0) }
      let client = try LeanTestClient(port: try await TestSupport.leanPort(of: server))
      let request = try Self.decideBytes()
      // 200 decisions take far more than 1 ms, in any build.
      client.send((1...200).flatMap { LeanTestClient.frame(stream: UInt32($0), method: Self.decide, message: request) })
      var answered: [UInt32] = [], shed: [UInt32] = []
      for _ in 1...200 {
        let response = try #require(try client.read())
        if response.status == 8 {
          shed.append(response.stream)
          #expect(response.message == "the lean door is behind: this request waited past its limit of 1.0 ms; try again later")
        } else {
          #expect(response.status == 0, "\(response)")
          answered.append(response.stream)
        }
      }
      #expect(!answered.isEmpty && !shed.isEmpty, "\(answered.count) answered, \(shed.count) shed")
      // The first of the burst never waits; those shed came after some that were decided.
      #expect(answered.contains(1) && shed.min()! > answered.min()!)
      #expect(server.metrics.inFlight(of: "lean")?.shed == UInt64(shed.count))
      client.send(LeanTestClient.frame(stream: 201, method: Self.decide, message: request))
      #expect(try client.read()?.status == 0)
      group.cancelAll()
    }
  }

  // MARK: deadlines

  @Test(.timeLimit(.minutes(2))) func aRequestPastItsDeadlineIsRefusedBeforeAnyWorkOnEveryDoor() async throws {
    let server = try TestSupport.makeServer()
    let grpc = server.makeGRPCServer()
    try await withThrowingTaskGroup(of: Void.self) { group in
      group.addTask { try await server.httpService(port: 0).run() }
      group.addTask { try await grpc.serve() }
      let httpPort = try await TestSupport.httpPort(of: server)
      let grpcAddress = try #require(try await grpc.listeningAddress?.ipv4)
      let before = server.live.log.counts.decisions

      // HTTP, answered on the event loop and by the router.
      let http = try RawSocket(port: httpPort)
      var buffer: [UInt8] = []
      http.send(Self.httpDecide("X-Server-Timeout: 0\r\n"))
      let late = try Self.readHTTP(http, buffer: &buffer)
      #expect(late.status == 504 && late.body.contains(#""code":"DEADLINE_EXCEEDED""#), "\(late)")
      http.send(Self.httpDecide("X-Server-Timeout: soon\r\n"))
      let bad = try Self.readHTTP(http, buffer: &buffer)
      #expect(bad.status == 400 && bad.body.contains("X-Server-Timeout: 'soon' is not a number of seconds"), "\(bad)")
      http.send(Self.httpDecide("X-Server-Timeout: 5\r\n"))
      #expect(try Self.readHTTP(http, buffer: &buffer).status == 200)
      let router = HTTPTestClient(api: server.httpAPI)
      let body = #"{"customerId":"100042","channel":"CHANNEL_WEB","slots":[{"name":"hero"}]}"#
      let routedLate = try await router.post("/v1/personalize", body, headers: [.init("X-Server-Timeout")!: "0"])
      #expect(routedLate.status == 504 && routedLate.text.contains("passed before the request started"))
      let routed = try await router.post("/v1/personalize", body, headers: [.init("X-Server-Timeout")!: "2.5"])
      #expect(routed.status == 200, "\(routed.text)")

      // gRPC: a timeout of 0 is past on arrival.
      try await withGRPCClient(
        transport: .http2NIOPosix(
          target: .ipv4(address: grpcAddress.host, port: grpcAddress.port), transportSecurity: .plaintext)
      ) { client in
        let decisions = Arbiter_V1_DecisionService.Client(wrapping: client)
        await expectStatus(.deadlineExceeded, containing: "(grpc-timeout 0n) passed before the call started") {
          _ = try await decisions.decide(
            .with {
              $0.customerID = 100_042; $0.channel = .web
            }, metadata: ["grpc-timeout": "0n"])
        }
        await expectStatus(.invalidArgument, containing: "grpc-timeout: 'soon' is not a gRPC timeout") {
          _ = try await decisions.decide(
            .with {
              $0.customerID = 100_042; $0.channel = .web
            }, metadata: ["grpc-timeout": "soon"])
        }
        var options = CallOptions.defaults
        options.timeout = .seconds(5)
        let decision = try await decisions.decide(
          .with {
            $0.customerID = 100_042; $0.channel = .web
          }, options: options)
        #expect(!decision.fallback)
      }
      // Only the three requests with time enough were decided.
      #expect(server.live.log.counts.decisions == before + 3)
      grpc.beginGracefulShutdown()
      group.cancelAll()
    }
  }

  // MARK: SLA fallback

  /// A copy of the demo bundle whose catalogue gives decisions `budgetMillis` and these fallback offers.
  static func bundle(budgetMillis: Double?, fallback: [String]) throws -> String {
    let live = try TestSupport.makeServer(customers: 10).live.snapshot.bundle
    var catalogue = live.catalogue
    catalogue.serviceLevel = ServiceLevelPolicy(budgetMillis: budgetMillis, fallbackOffers: fallback)
    let bundle = try ModelBundle(
      name: "demo", version: "1", createdBy: "test", schema: live.schema, catalogue: catalogue, models: live.models,
      population: live.manifest.population)
    let root = try TestSupport.temporaryDirectory()
    return try bundle.write(toRoot: root)
  }

  static let fallbackOffers = ["digital-banking-onboarding", "savings-bundle", "travel-insurance", "car-lease"]

  @Test(.timeLimit(.minutes(3))) func aDecisionOutOfTimeAnswersWithTheFallbackOffersOnEveryDoor() async throws {
    let logPath = try TestSupport.temporaryDirectory() + "/interactions.jsonl"
    // A budget of a nanosecond: every decision runs out of time before its first offer.
    let server = try TestSupport.makeServer(
      logPath: logPath, bundlePath: try Self.bundle(budgetMillis: 0.000_001, fallback: Self.fallbackOffers))
    let engine = server.live.snapshot.engine
    // What the fallback may answer a customer: the fallback offers they are eligible for, in
    // order (each door decides for another customer, so that no contact policy sees the others).
    func expected(_ customer: UInt64) throws -> [String] {
      let explained = try engine.decide(
        DecisionRequest(customerId: customer, channel: .web, maxOffers: 50, explain: true), decisionId: "probe")
      #expect(explained.fallback)
      #expect(explained.suppressed.allSatisfy { Self.fallbackOffers.contains($0.offerId) }, "no other offer looked at")
      let ineligible = Set(explained.suppressed.map(\.offerId))
      return Array(Self.fallbackOffers.filter { !ineligible.contains($0) }.prefix(3))
    }
    // Customers with at least one fallback offer they may be made on the web (consent given).
    let customers = try engine.customers.customerIds().sorted().filter { try !expected($0).isEmpty }.prefix(4)
    try #require(customers.count == 4)
    let (leanCustomer, grpcCustomer, httpCustomer, pageCustomer) = (
      customers[customers.startIndex], customers[customers.startIndex + 1], customers[customers.startIndex + 2],
      customers[customers.startIndex + 3]
    )
    let expectedLean = try expected(leanCustomer), expectedGRPC = try expected(grpcCustomer)
    let expectedHTTP = try expected(httpCustomer)

    try await withThrowingTaskGroup(of: Void.self) { group in
      group.addTask { try await server.runLeanServer(port: 0) }
      let lean = try LeanTestClient(port: try await TestSupport.leanPort(of: server))
      lean.send(LeanTestClient.frame(stream: 1, method: Self.decide, message: try Self.decideBytes(leanCustomer)))
      let response = try #require(try lean.read())
      let viaLean = try Arbiter_V1_DecideResponse(serializedBytes: response.body)
      #expect(viaLean.fallback && viaLean.offers.map(\.offerID) == expectedLean)
      #expect(viaLean.offers.allSatisfy { $0.propensity == 0 && $0.reasons.map(\.code) == ["SLA_FALLBACK"] })
      #expect(viaLean.exploration == "greedy")

      let viaGRPC = try await withInProcessClient(server) { client in
        try await Arbiter_V1_DecisionService.Client(wrapping: client).decide(
          .with {
            $0.customerID = grpcCustomer; $0.channel = .web; $0.maxOffers = 3
          })
      }
      #expect(viaGRPC.fallback && viaGRPC.offers.map(\.offerID) == expectedGRPC)

      let viaHTTP = try await HTTPTestClient(api: server.httpAPI).post(
        "/v1/decide", #"{"customerId":"\#(httpCustomer)","channel":"CHANNEL_WEB","maxOffers":3}"#)
      #expect(viaHTTP.status == 200 && viaHTTP.json["fallback"] as? Bool == true, "\(viaHTTP.text)")
      let httpOffers = (viaHTTP.json["offers"] as? [[String: Any]] ?? []).compactMap { $0["offerId"] as? String }
      #expect(httpOffers == expectedHTTP)
      let page = try await HTTPTestClient(api: server.httpAPI).post(
        "/v1/personalize",
        #"{"customerId":"\#(pageCustomer)","channel":"CHANNEL_WEB","slots":[{"name":"hero","count":2}]}"#)
      #expect(page.status == 200 && page.json["fallback"] as? Bool == true, "\(page.text)")
      group.cancelAll()
    }
    // Marked in the log and counted in the metrics.
    server.live.log.flush()
    let lines = try String(contentsOfFile: logPath, encoding: .utf8).split(separator: "\n")
    let decisions = lines.filter { $0.contains(#""type":"decision""#) }
    #expect(decisions.count == 4 && decisions.allSatisfy { $0.contains(#""fallback":true"#) }, "\(decisions)")
    #expect(server.live.fallbackCounts.first { $0.channel == .web }?.decisions == 4)
  }

  @Test func aDecisionWithinItsBudgetIsScoredAndABadServiceLevelIsRefusedNamingTheField() throws {
    let engine = try DecisionEngine(
      bundle: try ModelBundle.load(from: try Self.bundle(budgetMillis: 60_000, fallback: Self.fallbackOffers)),
      customers: try TestSupport.makeEngine(customers: 100).customers)
    let decision = try engine.decide(DecisionRequest(customerId: 100_042, channel: .web), decisionId: "d1")
    #expect(!decision.fallback && decision.offers.allSatisfy { $0.propensity > 0 })
    // A deadline already past makes even a generous budget fall back.
    var late = DecisionRequest(customerId: 100_042, channel: .web)
    late.deadline = 1
    #expect(try engine.decide(late, decisionId: "d2").fallback)

    for (budget, fallback, problem) in [
      (Double?(0), [String](), "serviceLevel.budgetMillis: must be a number of milliseconds above 0"),
      (nil, ["no-such-offer"], "serviceLevel.fallbackOffers[0]: no offer 'no-such-offer' in the catalogue"),
      (nil, ["car-lease", "car-lease"], "serviceLevel.fallbackOffers[1]: 'car-lease' twice"),
    ] {
      let path = try Self.bundle(budgetMillis: budget, fallback: fallback)
      do {
        _ = try DecisionEngine(bundle: try ModelBundle.load(from: path), customers: engine.customers)
        Issue.record("a bad service level was accepted: \(problem)")
      } catch {
        #expect(error.message.contains(problem), "\(error.message)")
      }
    }
  }

  // MARK: message size

  @Test(.timeLimit(.minutes(2))) func aGRPCMessageOverTheLimitIsRefusedNamingTheLimit() async throws {
    let server = try TestSupport.makeServer { $0.grpc.maxMessageSize = 64 * 1024 }
    let grpc = server.makeGRPCServer()
    try await withThrowingTaskGroup(of: Void.self) { group in
      group.addTask { try await grpc.serve() }
      let address = try #require(try await grpc.listeningAddress?.ipv4)
      try await withGRPCClient(
        transport: .http2NIOPosix(
          target: .ipv4(address: address.host, port: address.port), transportSecurity: .plaintext)
      ) { client in
        let profiles = Arbiter_V1_ProfileService.Client(wrapping: client)
        let big = Arbiter_V1_UpsertProfilesRequest.with {
          $0.profiles = (0..<2_000).map { k in
            .with {
              $0.customerID = UInt64(900_000 + k); $0.featureValues = Array(repeating: 1, count: 10)
            }
          }
        }
        #expect((try big.serializedBytes() as [UInt8]).count > 64 * 1024)
        await expectStatus(.resourceExhausted, containing: "over the gRPC door's limit of 65536 bytes") {
          _ = try await profiles.upsertProfiles(big)
        }
        // The connection serves on.
        let decision = try await Arbiter_V1_DecisionService.Client(wrapping: client).decide(
          .with {
            $0.customerID = 100_042; $0.channel = .web
          })
        #expect(decision.customerID == 100_042)
      }
      grpc.beginGracefulShutdown()
      group.cancelAll()
    }
  }
}
