import ArbiterAPI
import ArbiterFeatureStore
import ArbiterServer
import ArbiterService
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Testing

/// The real thing over a real socket: HTTP/2 on a free loopback port.
@Suite struct SocketEndToEndTests {
  @Test(.timeLimit(.minutes(2))) func decideRecordOutcomeGetProfileOverTCP() async throws {
    let logPath = try TestSupport.temporaryDirectory() + "/interactions.jsonl"
    let server = try TestSupport.makeServer(logPath: logPath)
    let engine = server.live.snapshot.engine
    let consent = engine.schema.customerIndex(of: "consent_digital")!
    let customer = engine.customers.customerIds().first {
      engine.customers.storedValue(row: engine.customers.row(of: $0)!, feature: consent) == 1
    }!
    let grpc = server.makeGRPCServer()
    try await withThrowingDiscardingTaskGroup { group in
      group.addTask { try await grpc.serve() }
      let address = try #require(try await grpc.listeningAddress?.ipv4)
      #expect(address.port != 0)
      try await withGRPCClient(
        transport: .http2NIOPosix(
          target: .ipv4(address: address.host, port: address.port), transportSecurity: .plaintext)
      ) { client in
        let decisions = Arbiter_V1_DecisionService.Client(wrapping: client)
        let decision = try await decisions.decide(
          .with {
            $0.customerID = customer
            $0.channel = .mobileApp
            $0.maxOffers = 3
          })
        let accepted = try #require(decision.offers.first).offerID
        let recorded = try await decisions.recordOutcomes(
          .with {
            $0.outcomes = [
              .with {
                $0.decisionID = decision.decisionID; $0.offerID = accepted; $0.outcome = .accept; $0.value = 250
              }
            ]
          })
        #expect(recorded.recorded == 1)
        let profile = try await Arbiter_V1_ProfileService.Client(wrapping: client).getProfile(
          .with { $0.customerID = customer })
        #expect(profile.recentInteractions.first?.outcome == .accept)
        #expect(profile.recentInteractions.first?.offerID == accepted)
        do {
          _ = try await decisions.decide(
            .with {
              $0.customerID = 1; $0.channel = .web
            })
          Issue.record("unknown customer decided")
        } catch let error as RPCError {
          #expect(error.code == .notFound)
          #expect(error.message == "customer 1 not found")
        }
      }
      grpc.beginGracefulShutdown()
    }
    // The outcome was written to the interaction log before it was acknowledged.
    let log = try String(contentsOfFile: logPath, encoding: .utf8)
    #expect(log.contains("\"type\":\"outcome\""))
    #expect(log.contains("\"outcome\":\"accept\""))
  }
}
