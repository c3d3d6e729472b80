import ArbiterAPI
import ArbiterCore
import ArbiterDecisioning
import ArbiterModels
import ArbiterServer
import ArbiterService
import Foundation
import GRPCCore
import GRPCInProcessTransport
import Testing

/// Runs `body` with a client connected to `server`'s services through the in-process transport.
func withInProcessClient<T: Sendable>(
  _ server: ArbiterServer, _ body: @Sendable (GRPCClient<InProcessTransport.Client>) async throws -> T
) async throws -> T {
  let transport = InProcessTransport()
  return try await withGRPCServer(
    transport: transport.server, services: server.services, interceptors: server.interceptors
  ) { _ in
    try await withGRPCClient(transport: transport.client) { client in try await body(client) }
  }
}

/// Expects `body` to fail with gRPC status `code` and a message containing `text`.
func expectStatus(
  _ code: RPCError.Code, containing text: String, _ body: () async throws -> Void,
  sourceLocation: SourceLocation = #_sourceLocation
) async {
  do {
    try await body()
    Issue.record("expected \(code), the call succeeded", sourceLocation: sourceLocation)
  } catch let error as RPCError {
    #expect(error.code == code, sourceLocation: sourceLocation)
    #expect(error.message.contains(text), "message: \(error.message)", sourceLocation: sourceLocation)
  } catch {
    Issue.record("expected an RPCError, got \(error)", sourceLocation: sourceLocation)
  }
}

@Suite struct GRPCServiceTests {
  let server: ArbiterServer

  init() throws { server = try TestSupport.makeServer() }

  @Test func decideRecordAndProfile() async throws {
    try await withInProcessClient(server) { client in
      let decisions = Arbiter_V1_DecisionService.Client(wrapping: client)
      let profiles = Arbiter_V1_ProfileService.Client(wrapping: client)
      let response = try await decisions.decide(
        .with {
          $0.customerID = 100_042
          $0.channel = .contactCentre
          $0.context.callReason = "travel"
          $0.maxOffers = 4
          $0.requestID = "req-1"
        })
      #expect((1...4).contains(response.offers.count))
      #expect(response.requestID == "req-1")
      #expect(response.versions.bundleName == "demo")
      #expect(response.versions.schemaHash.count == 64)
      #expect(!response.decisionID.isEmpty)
      #expect(response.offers.allSatisfy { !$0.treatment.agentScript.isEmpty && !$0.reasons.isEmpty })
      #expect(response.offers.map(\.rank) == Array(1...response.offers.count).map(UInt32.init))

      let offer = response.offers[0].offerID
      let recorded = try await decisions.recordOutcomes(
        .with {
          $0.outcomes = [
            .with {
              $0.decisionID = response.decisionID
              $0.offerID = offer
              $0.outcome = .decline
              $0.declineReason = "too-expensive"
            }
          ]
        })
      #expect(recorded.recorded == 1)

      let profile = try await profiles.getProfile(.with { $0.customerID = 100_042 })
      #expect(profile.displayName == "Ana Pereira")
      #expect(profile.featureNames.count == profile.featureValues.count)
      // Marketing, service and profiling on each of the 7 channels, as the demo seed recorded them.
      #expect(profile.consents.count == 21)
      #expect(Set(profile.consents.filter { $0.purpose == .marketing }.map(\.channel)).count == 7)
      let declined = profile.recentInteractions.first { $0.outcome == .decline }
      #expect(declined?.offerID == offer)
      #expect(declined?.declineReason == "too-expensive")
    }
  }

  @Test func badInputGetsPreciseStatuses() async throws {
    try await withInProcessClient(server) { client in
      let decisions = Arbiter_V1_DecisionService.Client(wrapping: client)
      await expectStatus(.notFound, containing: "customer 999 not found") {
        _ = try await decisions.decide(
          .with {
            $0.customerID = 999; $0.channel = .web
          })
      }
      await expectStatus(.invalidArgument, containing: "customer_id is required") {
        _ = try await decisions.decide(.with { $0.channel = .web })
      }
      await expectStatus(.invalidArgument, containing: "channel is required") {
        _ = try await decisions.decide(.with { $0.customerID = 100_001 })
      }
      await expectStatus(.invalidArgument, containing: "channel: unknown channel 42") {
        _ = try await decisions.decide(
          .with {
            $0.customerID = 100_001; $0.channel = .UNRECOGNIZED(42)
          })
      }
      await expectStatus(.invalidArgument, containing: "max_offers") {
        _ = try await decisions.decide(
          .with {
            $0.customerID = 100_001; $0.channel = .web; $0.maxOffers = 500
          })
      }
      await expectStatus(.invalidArgument, containing: "context.features[0] is infinite") {
        _ = try await decisions.decide(
          .with {
            $0.customerID = 100_001; $0.channel = .web; $0.context.features = [.infinity]
          })
      }
      await expectStatus(.notFound, containing: "decision 'nope' not found") {
        _ = try await decisions.recordOutcomes(
          .with {
            $0.outcomes = [
              .with {
                $0.decisionID = "nope"; $0.offerID = "x"; $0.outcome = .accept
              }
            ]
          })
      }
      await expectStatus(.invalidArgument, containing: "outcomes[0].outcome is required") {
        _ = try await decisions.recordOutcomes(
          .with {
            $0.outcomes = [
              .with {
                $0.decisionID = "d"; $0.offerID = "x"
              }
            ]
          })
      }
      let made = try await decisions.decide(
        .with {
          $0.customerID = 100_042; $0.channel = .web; $0.maxOffers = 1
        })
      let notMade = server.live.snapshot.engine.catalogue.offers.map(\.definition.id).first {
        $0 != made.offers[0].offerID
      }!
      await expectStatus(.invalidArgument, containing: "did not make offer '\(notMade)'") {
        _ = try await decisions.recordOutcomes(
          .with {
            $0.outcomes = [
              .with {
                $0.decisionID = made.decisionID; $0.offerID = notMade; $0.outcome = .accept
              }
            ]
          })
      }
      let profiles = Arbiter_V1_ProfileService.Client(wrapping: client)
      await expectStatus(.notFound, containing: "customer 5 not found") {
        _ = try await profiles.getProfile(.with { $0.customerID = 5 })
      }
      await expectStatus(.invalidArgument, containing: "profiles: at least one profile is required") {
        _ = try await profiles.upsertProfiles(.init())
      }
      await expectStatus(.failedPrecondition, containing: "does not match the live schema") {
        _ = try await profiles.upsertProfiles(
          .with {
            $0.schemaHash = "abc"; $0.profiles = [.with { $0.customerID = 1 }]
          })
      }
    }
  }

  /// Bytes that are not a protobuf message get INVALID_ARGUMENT, and the server keeps serving.
  @Test func malformedProtobufIsRejected() async throws {
    struct RawBytes: MessageSerializer, MessageDeserializer {
      func serialize<Bytes: GRPCContiguousBytes>(_ message: [UInt8]) throws -> Bytes { Bytes(message) }
      func deserialize<Bytes: GRPCContiguousBytes>(_ serializedMessageBytes: Bytes) throws -> [UInt8] {
        serializedMessageBytes.withUnsafeBytes { Array($0) }
      }
    }
    try await withInProcessClient(server) { client in
      await expectStatus(.invalidArgument, containing: "deserialize") {
        _ = try await client.unary(
          request: ClientRequest(message: [0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]),
          descriptor: Arbiter_V1_DecisionService.Method.Decide.descriptor,
          serializer: RawBytes(), deserializer: RawBytes(), options: .defaults
        ) { try $0.message }
      }
      let ok = try await Arbiter_V1_DecisionService.Client(wrapping: client).decide(
        .with {
          $0.customerID = 100_001; $0.channel = .web
        })
      #expect(!ok.decisionID.isEmpty)
    }
  }

  @Test func personalizeFillsSlotsWithoutDuplicates() async throws {
    try await withInProcessClient(server) { client in
      let decisions = Arbiter_V1_DecisionService.Client(wrapping: client)
      for customer: UInt64 in [100_010, 0] {
        let page = try await decisions.personalize(
          .with {
            $0.customerID = customer
            $0.channel = .web
            $0.context.page = "cards"
            $0.slots = [
              .with {
                $0.name = "hero"; $0.count = 1
              },
              .with {
                $0.name = "carousel"; $0.count = 4
              },
              .with {
                $0.name = "cards"; $0.contentType = "cards"; $0.count = 2
              },
            ]
          })
        let ids = page.items.map(\.offer.offerID)
        #expect(Set(ids).count == ids.count, "no offer twice on a page")
        #expect(page.items.filter { $0.slot == "hero" }.count == 1)
        #expect(page.items.filter { $0.slot == "carousel" }.count == 4)
        let catalogue = server.live.snapshot.bundle.catalogue
        for item in page.items where item.slot == "cards" {
          #expect(catalogue.offers.first { $0.id == item.offer.offerID }?.category == "cards")
        }
        // Diversity: at most the catalogue's number of offers of one category on a page.
        let perCategory = Dictionary(grouping: page.items, by: \.offer.category).mapValues(\.count)
        #expect(catalogue.maxPerCategoryPerPage == 2)
        #expect(perCategory.values.allSatisfy { $0 <= 2 }, "\(perCategory)")
        #expect(page.items.allSatisfy { $0.offer.probability > 0 && $0.offer.probability <= 1 })
      }
    }
  }

  @Test func selectOutboundAndRecordItsOutcome() async throws {
    let server = try TestSupport.makeServer()
    try await withInProcessClient(server) { client in
      let decisions = Arbiter_V1_DecisionService.Client(wrapping: client)
      let response = try await decisions.selectOutbound(
        .with {
          $0.channel = .email
          $0.budget = 30
          $0.includeAssignments = true
          $0.requestID = "campaign-1"
        })
      #expect(response.requestID == "campaign-1")
      #expect(response.selected == 30 && response.assignments.count == 30 && response.totalCost == 30)
      #expect(response.stoppedBy == "budget")
      #expect(response.perOffer.reduce(0) { $0 + $1.count } == 30)
      #expect(abs(response.expectedValue - response.assignments.reduce(0) { $0 + $1.expectedValue }) < 1e-6)
      let first = try #require(response.assignments.first)
      #expect(first.treatment.title.contains(",") || !first.treatment.title.isEmpty)
      let recorded = try await decisions.recordOutcomes(
        .with {
          $0.outcomes = [
            .with {
              $0.decisionID = first.decisionID; $0.offerID = first.offerID; $0.outcome = .accept
            }
          ]
        })
      #expect(recorded.recorded == 1)
      await expectStatus(.invalidArgument, containing: "budget must be a finite number") {
        _ = try await decisions.selectOutbound(
          .with {
            $0.channel = .email; $0.budget = -1
          })
      }
      await expectStatus(.invalidArgument, containing: "channel") {
        _ = try await decisions.selectOutbound(.with { $0.channel = .unspecified })
      }
    }
  }

  @Test func healthAndAdmin() async throws {
    try await withInProcessClient(server) { client in
      let health = Grpc_Health_V1_Health.Client(wrapping: client)
      #expect(try await health.check(.init()).status == .serving)
      #expect(try await health.check(.with { $0.service = "arbiter.v1.DecisionService" }).status == .serving)
      await expectStatus(.notFound, containing: "unknown service 'nope'") {
        _ = try await health.check(.with { $0.service = "nope" })
      }

      let admin = Arbiter_V1_AdminService.Client(wrapping: client)
      let status = try await admin.getStatus(.init())
      #expect(status.customers == 3_000)
      #expect(status.models.count == Int(status.offers))
      #expect(status.versions.bundleVersion == "1")

      // A corrupt bundle is refused and the live one keeps serving.
      let (root, version) = try TestSupport.copyOfDemoBundle()
      try Data("{".utf8).write(to: URL(fileURLWithPath: version + "/catalogue.json"))
      await expectStatus(.dataLoss, containing: "catalogue.json: checksum mismatch") {
        _ = try await admin.reload(.with { $0.bundlePath = root })
      }
      let decided = try await Arbiter_V1_DecisionService.Client(wrapping: client).decide(
        .with {
          $0.customerID = 100_001; $0.channel = .web
        })
      #expect(decided.versions.bundleVersion == "1")

      // A bundle whose model scores NaN (two overflowing terms of opposite sign, on features every
      // customer has) is refused by the probe.
      let (nanRoot, nanVersion) = try TestSupport.copyOfDemoBundle()
      var poisoned = try ModelBundle.load(from: nanVersion)
      poisoned.models.models[0].terms.append(
        LogisticTerm(feature: "age", level: nil, mean: 0, scale: 1e-307, weight: 1))
      poisoned.models.models[0].terms.append(
        LogisticTerm(feature: "tenure_years", level: nil, mean: 0, scale: 1e-307, weight: -1))
      let rebuilt = try ModelBundle(
        name: "demo", version: "3", createdBy: "test", schema: poisoned.schema, catalogue: poisoned.catalogue,
        models: poisoned.models,
        population: poisoned.manifest.population)
      try FileManager.default.removeItem(atPath: nanVersion)
      try rebuilt.write(toRoot: nanRoot)
      await expectStatus(
        .failedPrecondition, containing: "probe: the model of offer 'premium-card-upgrade' does not score customer"
      ) {
        _ = try await admin.reload(.with { $0.bundlePath = nanRoot })
      }
      #expect(try await admin.getStatus(.init()).versions.bundleVersion == "1")

      // A good bundle under a new version is published.
      let (goodRoot, goodVersion) = try TestSupport.copyOfDemoBundle()
      let manifestPath = goodVersion + "/manifest.json"
      let manifest = try String(contentsOfFile: manifestPath, encoding: .utf8).replacingOccurrences(
        of: "\"version\" : \"1\"", with: "\"version\" : \"2\"")
      try manifest.write(toFile: manifestPath, atomically: true, encoding: .utf8)
      let reloaded = try await admin.reload(.with { $0.bundlePath = goodRoot })
      #expect(reloaded.previous.bundleVersion == "1")
      #expect(reloaded.current.bundleVersion == "2")
      let after = try await Arbiter_V1_DecisionService.Client(wrapping: client).decide(
        .with {
          $0.customerID = 100_001; $0.channel = .web
        })
      #expect(after.versions.bundleVersion == "2")
    }
  }
}

@Suite struct ShadowScoringTests {
  @Test func aChallengerIsLoggedAndNeverChangesAResponse() async throws {
    let logPath = try TestSupport.temporaryDirectory() + "/log.jsonl"
    let server = try TestSupport.makeServer(logPath: logPath)
    let (root, version) = try TestSupport.copyOfDemoBundle()
    let manifestPath = version + "/manifest.json"
    let manifest = try String(contentsOfFile: manifestPath, encoding: .utf8).replacingOccurrences(
      of: "\"version\" : \"1\"", with: "\"version\" : \"2\"")
    try manifest.write(toFile: manifestPath, atomically: true, encoding: .utf8)
    try await withInProcessClient(server) { client in
      let admin = Arbiter_V1_AdminService.Client(wrapping: client)
      let decisions = Arbiter_V1_DecisionService.Client(wrapping: client)
      let request = Arbiter_V1_DecideRequest.with {
        $0.customerID = 100_042; $0.channel = .web; $0.maxOffers = 5
      }
      let before = try await decisions.decide(request)
      await expectStatus(.invalidArgument, containing: "share must be between 0 and 1") {
        _ = try await admin.setChallenger(
          .with {
            $0.bundlePath = root; $0.share = 2
          })
      }
      let status = try await admin.setChallenger(
        .with {
          $0.bundlePath = root; $0.share = 1
        })
      #expect(status.active && status.challenger.bundleVersion == "2")
      var ids: [String] = []
      _ = before
      for _ in 0..<20 {
        let response = try await decisions.decide(request)
        #expect(response.versions.bundleVersion == "1")
        // What the champion alone decides for this decision id and the history before it.
        let history = server.live.log.recent(customerId: 100_042, limit: 50).filter {
          $0.decisionId != response.decisionID
        }
        let alone = try server.live.snapshot.engine.decide(
          DecisionRequest(customerId: 100_042, channel: .web, maxOffers: 5), decisionId: response.decisionID,
          history: history)
        #expect(response.offers.map(\.offerID) == alone.offers.map(\.offerId))
        ids.append(response.decisionID)
      }
      #expect(server.live.log.shadowCount == 20)
      _ = try await admin.setChallenger(.with { $0.share = 0 })
      #expect(try await admin.getStatus(.init()).challenger.active == false)
      _ = try await decisions.decide(request)
      #expect(server.live.log.shadowCount == 20)
      server.live.log.flush()
      let lines = try String(contentsOfFile: logPath, encoding: .utf8).split(separator: "\n").filter {
        $0.contains("\"type\":\"shadow\"")
      }
      #expect(lines.count == 20)
      #expect(lines.allSatisfy { $0.contains("\"bundle\":\"demo/2\"") })
      #expect(Set(ids).allSatisfy { id in lines.contains { $0.contains("\"decision_id\":\"\(id)\"") } })
      // The challenger here is the champion's own bundle, so on the same inputs (request,
      // decision id, and the customer's contact history, which by now holds the weekly limit)
      // it decides the same offers.
      var offersByType: [String: [String: [String]]] = ["decision": [:], "shadow": [:]]
      for line in try String(contentsOfFile: logPath, encoding: .utf8).split(separator: "\n") {
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        let type = try #require(object["type"] as? String), id = try #require(object["decision_id"] as? String)
        let offers = try #require(object["offers"] as? [[String: Any]]).compactMap { $0["offer_id"] as? String }
        offersByType[type]?[id] = offers
      }
      #expect(offersByType["decision"]!.values.contains { $0.count < 5 }, "the weekly limit cut some decisions")
      for id in ids { #expect(offersByType["shadow"]![id] == offersByType["decision"]![id], "\(id)") }
    }
  }
}
