import ArbiterAPI
import ArbiterCore
import ArbiterDecisioning
import ArbiterService
import Foundation
import Hummingbird

/// The dashboard's one route: everything it draws, from the live state's counters.
extension HTTPAPI {
  func addDashboardRoute(to router: Router<ArbiterRequestContext>) {
    router.get("/v1/dashboard") { _, _ in try json(dashboard()) }
  }

  /// Traffic per door, offers and their outcomes, treatment against control per group, quota
  /// and capacity use, suppression reasons, the bundle and the challenger.
  func dashboard(now: Date = Date()) -> Arbiter_V1_DashboardSnapshot {
    let engine = live.snapshot.engine
    let catalogue = engine.catalogue
    // Quotas and capacity are used by the decisions' clock.
    let nowDays = engine.clock()
    let tallies = live.log.offerTallies()
    return .with { snapshot in
      snapshot.atMillis = Int64(now.timeIntervalSince1970 * 1000)
      snapshot.doors = live.traffic.snapshot(nowSeconds: UInt64(now.timeIntervalSince1970)).map { door in
        .with {
          $0.door = door.door.name
          $0.decisions = door.decisions
          $0.perSecond = door.perSecond
          $0.p50Micros = door.p50Micros
          $0.p90Micros = door.p90Micros
          $0.p99Micros = door.p99Micros
        }
      }
      var byId: [String: InteractionLog.OfferTally] = [:]
      for tally in tallies { byId[tally.offerId] = tally }
      var groups: [String: Arbiter_V1_GroupTally] = [:]
      var groupOrder: [String] = []
      for offer in catalogue.offers {
        let tally = byId[offer.definition.id]
        snapshot.offers.append(
          .with {
            $0.offerID = offer.definition.id
            $0.name = offer.definition.name
            $0.group = offer.group
            $0.made = tally?.made ?? 0
            $0.impressions = tally?.impressions ?? 0
            $0.clicks = tally?.clicks ?? 0
            $0.accepted = tally?.accepted ?? 0
            $0.declined = tally?.declined ?? 0
            $0.converted = tally?.converted ?? 0
          })
        if groups[offer.group] == nil {
          groupOrder.append(offer.group)
          groups[offer.group] = .with { $0.group = offer.group }
        }
        groups[offer.group]!.treatmentDecisions += tally?.made ?? 0
        groups[offer.group]!.treatmentAccepted += tally?.accepted ?? 0
        groups[offer.group]!.controlDecisions += tally?.heldOut ?? 0
        groups[offer.group]!.controlAccepted += tally?.controlConverted ?? 0
      }
      snapshot.groups = groupOrder.map { groups[$0]! }
      snapshot.pacing = engine.pacing.uses(at: nowDays).map { use in
        .with {
          $0.key = use.key
          $0.used = use.used
          $0.limit = use.limit
          $0.periodSeconds = use.periodDays * 86_400
          $0.periodStartMillis = Int64((use.periodStartDays * 86_400_000).rounded())
        }
      }
      snapshot.suppression = live.suppressions.totals().map { entry in
        .with {
          $0.code = entry.code.rawValue
          $0.count = entry.count
        }
      }
      snapshot.bundle = engine.versions.proto
      snapshot.challenger = admin.challengerStatus()
      snapshot.promotions = live.promotionVerdicts.map(\.proto)
      let counts = live.log.counts
      snapshot.decisions = UInt64(counts.decisions)
      snapshot.outcomes = UInt64(counts.outcomes)
    }
  }
}
