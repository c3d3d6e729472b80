import ArbiterAPI
import ArbiterCore
import ArbiterDemoBank
import ArbiterFeatureStore
import ArbiterServer
import ArbiterService
import Foundation
import GRPCCore
import Testing

/// UpsertProfiles takes vectors in the form GetProfile returns and CSV import reads (as of the
/// server's clock: days since, flags, trends), and stores them as CSV import does.
@Suite struct ProfileRoundTripTests {
  /// Events of every kind for `id`, dated `daysAgo` before the test clock (so that the clock,
  /// decays, recency, the trigger and the trend all have something to show).
  static func events(for id: UInt64, daysAgo: [Double]) -> [CustomerEvent] {
    daysAgo.enumerated().flatMap { k, ago -> [CustomerEvent] in
      let at = Int64((TestSupport.fixedClockDays - ago) * 86_400_000)
      return [
        CustomerEvent(
          customerId: id, kind: .transaction, timestampMillis: at, amount: -40 - Double(k * 7), channel: .card),
        CustomerEvent(customerId: id, kind: .transaction, timestampMillis: at + 60_000, amount: 250, channel: .online),
        CustomerEvent(customerId: id, kind: .pageView, timestampMillis: at + 120_000),
        CustomerEvent(customerId: id, kind: .call, timestampMillis: at + 180_000),
        CustomerEvent(
          customerId: id, kind: .transfer, timestampMillis: at + 240_000, amount: k == 0 ? -7_500 : -120,
          channel: .online),
      ]
    }
  }

  /// Two feature values are the same: equal, both missing, or (for a decayed value or a trend,
  /// whose hidden state is re-based to the row's clock on the way in) within float rounding.
  static func same(_ a: Double, _ b: Double, feature: FeatureDefinition) -> Bool {
    if a.isNaN || b.isNaN { return a.isNaN && b.isNaN }
    if a == b { return true }
    let rebased =
      feature.derive.map {
        $0.kind == .trend || (($0.kind == .count || $0.kind == .sum) && $0.halfLifeDays != nil)
      } ?? false
    return rebased && abs(a - b) <= 1e-5 * max(1, abs(a))
  }

  @Test func getProfileThenUpsertProfilesLeavesTheCustomerUnchanged() async throws {
    let server = try TestSupport.makeServer()
    let store = server.store
    let ids: [UInt64] = [100_001, 100_042, 100_777, 101_234, 102_500]
    for (n, id) in ids.enumerated() {
      let result = store.apply(Self.events(for: id, daysAgo: [Double(12 + n), Double(5 + n) / 2, Double(n)]))
      #expect(result.rejected == 0, "\(result.errors)")
    }
    let schema = store.schema
    try await withInProcessClient(server) { client in
      let profiles = Arbiter_V1_ProfileService.Client(wrapping: client)
      var before: [Arbiter_V1_CustomerProfile] = []
      for id in ids { before.append(try await profiles.getProfile(.with { $0.customerID = id })) }
      // The events left something to compare: decayed counts, recency, the trigger and the trend.
      let index = { (name: String) in schema.customerIndex(of: name)! }
      #expect(
        before.allSatisfy {
          $0.featureValues[index("calls_30d")] > 1 && $0.featureValues[index("days_since_call")] <= 5
        })
      #expect(before.contains { $0.featureValues[index("churn_risk")] == 1 })
      #expect(before.allSatisfy { $0.featureValues[index("balance_trend")] != 0 })
      let response = try await profiles.upsertProfiles(
        .with {
          $0.profiles = before.map { profile in
            .with {
              $0.customerID = profile.customerID
              $0.displayName = profile.displayName
              $0.featureValues = profile.featureValues
            }
          }
        })
      #expect(response.updated == UInt32(ids.count) && response.rejected == 0, "\(response.errors)")
      for profile in before {
        let after = try await profiles.getProfile(.with { $0.customerID = profile.customerID })
        #expect(after.displayName == profile.displayName)
        for (i, feature) in schema.customerFeatures.enumerated() {
          let (was, now) = (profile.featureValues[i], after.featureValues[i])
          let what = "customer \(profile.customerID), \(feature.name)"
          #expect(Self.same(now, was, feature: feature), "\(what): \(was) became \(now)")
        }
      }
    }
  }

  /// The propensities of every scored offer of one decision.
  static func propensities(_ decision: Arbiter_V1_DecideResponse) -> [String: Double] {
    var scored: [String: Double] = [:]
    for offer in decision.offers { scored[offer.offerID] = offer.propensity }
    for control in decision.controls { scored[control.offerID] = control.propensity }
    for suppressed in decision.suppressed where suppressed.propensity != 0 {
      scored[suppressed.offerID] = suppressed.propensity
    }
    return scored
  }

  @Test func newCustomerThroughUpsertProfilesDecidesLikeTheSameCustomerImportedFromCSV() async throws {
    let server = try TestSupport.makeServer()
    let schema = server.store.schema
    let features = schema.customerFeatures
    try await withInProcessClient(server) { client in
      let profiles = Arbiter_V1_ProfileService.Client(wrapping: client)
      let decisions = Arbiter_V1_DecisionService.Client(wrapping: client)
      let model = try await profiles.getProfile(.with { $0.customerID = 100_042 })
      // Only base features: the derived ones are left at zero (as a client that does not set
      // them sends), or missing.
      for (variant, derived) in [("zero", 0.0), ("missing", Double.nan)] {
        let base = features.indices.map { features[$0].derive == nil ? model.featureValues[$0] : derived }
        let upserted: UInt64 = derived.isNaN ? 9_100_011 : 9_100_001
        let imported = upserted + 1
        let response = try await profiles.upsertProfiles(
          .with {
            $0.profiles = [
              .with {
                $0.customerID = upserted; $0.displayName = "Nova"; $0.featureValues = base
              }
            ]
          })
        #expect(response.inserted == 1, "\(response.errors)")
        let columns = features.indices.filter { !CompiledDerivations.isInternalState(features[$0]) }
        let csv =
          "customer_id,display_name," + columns.map { features[$0].name }.joined(separator: ",") + "\n"
          + "\(imported),Nova,"
          + columns.map { base[$0].isNaN ? "" : "\(Float(base[$0]))" }.joined(separator: ",") + "\n"
        let path = try TestSupport.temporaryDirectory() + "/new.csv"
        try Data(csv.utf8).write(to: URL(fileURLWithPath: path))
        let report = try CSVImporter.importFile(path: path, into: server.store, asOfDays: TestSupport.fixedClockDays)
        #expect(report.inserted == 1, "\(report.errors)")
        try TestSupport.consentToEverything(server.store, ids: [upserted, imported])
        func decide(_ id: UInt64) async throws -> [String: Double] {
          Self.propensities(
            try await decisions.decide(
              .with {
                $0.customerID = id
                $0.channel = .web
                $0.maxOffers = 50
                $0.explain = true
              }))
        }
        let viaUpsert = try await decide(upserted)
        let viaCSV = try await decide(imported)
        #expect(viaUpsert.count >= 5, "\(variant): \(viaUpsert)")
        #expect(!viaUpsert.values.allSatisfy { $0 > 0.999 }, "\(variant): every propensity is 1: \(viaUpsert)")
        #expect(viaUpsert == viaCSV, "\(variant): upserted \(viaUpsert) vs imported \(viaCSV)")
        let readUpsert = try await profiles.getProfile(.with { $0.customerID = upserted }).featureValues
        let readCSV = try await profiles.getProfile(.with { $0.customerID = imported }).featureValues
        for i in features.indices {
          let same = readUpsert[i].isNaN ? readCSV[i].isNaN : readUpsert[i] == readCSV[i]
          #expect(same, "\(variant): \(features[i].name)")
        }
      }
    }
  }
}
