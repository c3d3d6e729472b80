import ArbiterAPI
import ArbiterCore
import ArbiterFeatureStore
import ArbiterServer
import ArbiterService
import Foundation
import GRPCCore
import Testing

/// An event dated far ahead of the server clock is refused, so that it cannot move a customer's
/// clock into the future and make every later real event count for nothing.
@Suite struct EventTimeTests {
  static var nowMillis: Int64 { Int64(Date().timeIntervalSince1970 * 1000) }
  /// 3000-01-01T00:00:00Z.
  static let year3000Millis: Int64 = 32_503_680_000_000

  @Test func oneFutureEventCannotPoisonACustomerInTheStore() throws {
    let store = try FeatureStore(schema: eventSchema)
    _ = try store.upsert([record(1, age: 40)])
    let now = Self.nowMillis
    func txn(_ at: Int64) -> CustomerEvent {
      CustomerEvent(customerId: 1, kind: .transaction, timestampMillis: at, amount: -10, channel: .card)
    }
    let first = store.apply([txn(now - 60_000), txn(Self.year3000Millis), txn(.max), txn(now)])
    #expect(first.accepted == 2 && first.rejected == 2)
    #expect(first.errors.count == 2, "\(first.errors)")
    #expect(first.errors.allSatisfy { $0.contains("is more than 5m ahead of the server clock") }, "\(first.errors)")
    #expect(first.errors.first?.hasPrefix("events[1] (customer 1): event time 32503680000000 ms") == true)
    // Later real events still count: the decayed count grows by about one per event.
    let later = store.apply((1...3).map { txn(now + Int64($0) * 1_000) })
    #expect(later.accepted == 3)
    let count = stored(store, 1)[3]
    #expect(abs(count - 5) < 1e-3, "txn_count_30d \(count)")
    #expect(Double(stored(store, 1)[1]) < Double(now) / 86_400_000 + 1, "the clock stays near now")
  }

  @Test func ingestEventsRejectsAFutureEventNamingTheFieldAndKeepsCounting() async throws {
    let server = try TestSupport.makeServer()
    let id: UInt64 = 100_042
    let countIndex = server.store.schema.customerIndex(of: "txn_count_30d")!
    try await withInProcessClient(server) { client in
      let profiles = Arbiter_V1_ProfileService.Client(wrapping: client)
      let start = try await profiles.getProfile(.with { $0.customerID = id }).featureValues[countIndex]
      // Real events at the test clock (the demo customers' clock), so that nothing decays.
      let now = Int64(TestSupport.fixedClockDays * 86_400_000)
      @Sendable func event(_ at: Int64) -> Arbiter_V1_CustomerEvent {
        .with {
          $0.customerID = id
          $0.kind = .transaction
          $0.amount = -12
          $0.transactionChannel = .card
          $0.timestampMillis = at
        }
      }
      let acks = try await profiles.ingestEvents(
        requestProducer: { writer in
          try await writer.write(
            .with {
              $0.events = [event(Self.year3000Millis), event(now - 1_000), event(.max), event(now)]
            })
          try await writer.write(.with { $0.events = [event(now + 1_000), event(now + 2_000)] })
        },
        onResponse: { response in
          var acks: [Arbiter_V1_IngestAck] = []
          for try await ack in response.messages { acks.append(ack) }
          return acks
        })
      #expect(acks.count == 2)
      #expect(acks[0].accepted == 2 && acks[0].rejected == 2)
      #expect(
        acks[0].errors == [
          "events[0].timestamp_millis 32503680000000 is more than 5m ahead of the server clock",
          "events[2].timestamp_millis 9223372036854775807 is more than 5m ahead of the server clock",
        ])
      #expect(acks[1].accepted == 2 && acks[1].rejected == 0)
      #expect(acks[1].totalAccepted == 4 && acks[1].totalRejected == 2)
      let end = try await profiles.getProfile(.with { $0.customerID = id }).featureValues[countIndex]
      // Four real events, at the customer's own clock: four more, nothing decayed.
      #expect(abs(end - ((start.isNaN ? 0 : start) + 4)) < 1e-3, "txn_count_30d \(start) → \(end)")
    }
  }
}
