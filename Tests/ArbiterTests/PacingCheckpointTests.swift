import ArbiterCore
import ArbiterDecisioning
import ArbiterServer
import ArbiterService
import Foundation
import Testing

/// Quota and capacity use survives a restart, so a period's quota cannot be spent twice.
@Suite struct PacingCheckpointTests {
  @Test func aRestartContinuesQuotaAndCapacityUse() throws {
    let store = try TestSupport.temporaryDirectory() + "/store"
    let request = DecisionRequest(customerId: 100_042, channel: .contactCentre, maxOffers: 3)
    let day = TestSupport.fixedClockDays
    let first = try TestSupport.makeServer(storeDirectory: store)
    var made = 0
    for id in first.store.customerIds().prefix(200) {
      made += try first.live.decide(DecisionRequest(customerId: id, channel: .contactCentre, maxOffers: 3)).offers.count
    }
    let engine = first.live.snapshot.engine
    let capacity = try #require(engine.catalogue.capacityBudgets[Channel.contactCentre.ordinal])
    let quota = try #require(engine.catalogue.offers[engine.catalogue.offerIndex["retention-rate-offer"]!].quota)
    // Three more retention offers made today (by whatever door).
    let before = quota.used(at: day)
    #expect(quota.reserve(3, at: day))
    let used = (capacity: capacity.used(at: day), quota: quota.used(at: day))
    #expect(made > 0 && used.capacity == Double(made) * 2 && used.quota == before + 3)
    first.writePacingCheckpoint()
    first.store.close()

    let second = try TestSupport.makeServer(storeDirectory: store)
    let restarted = second.live.snapshot.engine
    #expect(restarted.catalogue.capacityBudgets[Channel.contactCentre.ordinal]!.used(at: day) == used.capacity)
    #expect(
      restarted.catalogue.offers[restarted.catalogue.offerIndex["retention-rate-offer"]!].quota!.used(at: day)
        == used.quota)
    // The next hour's capacity starts from zero, as it would have without the restart.
    #expect(restarted.catalogue.capacityBudgets[Channel.contactCentre.ordinal]!.used(at: day + 1.0 / 24) == 0)
    _ = try second.live.decide(request)
    second.store.close()

    // A damaged checkpoint is refused, naming the file.
    try Data("{".utf8).write(to: URL(fileURLWithPath: store + "/pacing.json"))
    do {
      _ = try TestSupport.makeServer(storeDirectory: store)
      Issue.record("a damaged pacing checkpoint was read")
    } catch let error as ArbiterError {
      #expect(error.code == .dataCorrupted && error.message.contains("pacing.json"), "\(error.message)")
    }
  }
}
