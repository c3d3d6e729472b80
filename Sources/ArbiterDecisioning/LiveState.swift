import ArbiterCore
import ArbiterModels
import Atomics
import Foundation

/// Everything a decision reads, immutable once built: the engine (catalogue, models, customers)
/// and where it came from.
public final class DecisionSnapshot: AtomicReference, Sendable {
  public let engine: DecisionEngine
  public let bundle: ModelBundle
  public let loadedAtMillis: Int64

  public init(engine: DecisionEngine, bundle: ModelBundle) {
    self.engine = engine
    self.bundle = bundle
    self.loadedAtMillis = Int64(Date().timeIntervalSince1970 * 1000)
  }
}

/// The live decision state. Readers take the current snapshot with one atomic load and never
/// lock; a reload builds and validates a whole new snapshot, then publishes it atomically. A
/// request in flight finishes on the snapshot it started with.
public final class LiveState: Sendable {
  private let current: ManagedAtomic<DecisionSnapshot>
  public let log: InteractionLog
  /// The challenger of shadow scoring, and the share of decisions (in 1/10,000) it scores.
  private let challenger = ManagedAtomic<DecisionSnapshot?>(nil)
  private let challengerShare = ManagedAtomic<Int>(0)
  /// The bundle location reloads read from when none is given.
  public let bundlePath: String

  public init(snapshot: DecisionSnapshot, log: InteractionLog, bundlePath: String) {
    self.current = ManagedAtomic(snapshot)
    self.log = log
    self.bundlePath = bundlePath
  }

  /// The snapshot serving now.
  public var snapshot: DecisionSnapshot { current.load(ordering: .acquiring) }

  /// Decides against the current snapshot and logs the decision.
  public func decide(_ request: DecisionRequest) throws(ArbiterError) -> Decision {
    let (sequence, id) = log.makeDecisionId(kind: "d")
    let engine = snapshot.engine
    let decision = try engine.decide(request, decisionId: id, contacts: history(for: request, engine))
    log.record(decision, sequence: sequence)
    shadow(request, decision)
    return decision
  }

  /// The customer's recent interactions, when the catalogue's contact policy needs them.
  func history(for request: DecisionRequest, _ engine: DecisionEngine) -> [ContactRecord] {
    guard !request.anonymous, engine.catalogue.contactPolicy.isActive else { return [] }
    return log.contacts(customerId: request.customerId, limit: log.historyPerCustomer)
  }

  /// The challenger and its share, if shadow scoring is on.
  public var shadowStatus: (snapshot: DecisionSnapshot, share: Double)? {
    guard let current = challenger.load(ordering: .acquiring) else { return nil }
    return (current, Double(challengerShare.load(ordering: .relaxed)) / 10_000)
  }

  /// Loads a challenger bundle (validated like a reload) to score `share` of decisions; nil or a
  /// share of 0 stops shadow scoring.
  public func setChallenger(path: String?, share: Double) throws(ArbiterError) {
    guard share.isFinite, share >= 0, share <= 1 else { throw ArbiterError(.invalidArgument, "share must be between 0 and 1, got \(share)") }
    guard let path, share > 0 else {
      challenger.store(nil, ordering: .releasing)
      challengerShare.store(0, ordering: .relaxed)
      return
    }
    let live = snapshot
    let bundle = try ModelBundle.load(from: path)
    // Its own pacing: a challenger's draws must never use the champion's quotas.
    let engine = try DecisionEngine(bundle: bundle, customers: live.engine.customers, clock: live.engine.clock, pacing: PacingState())
    try engine.probe()
    challengerShare.store(Int((share * 10_000).rounded()), ordering: .relaxed)
    challenger.store(DecisionSnapshot(engine: engine, bundle: bundle), ordering: .releasing)
  }

  /// Scores the request with the challenger for the configured share of decisions (chosen by a
  /// hash of the decision id, so the choice is stable) and logs what it would have done.
  private func shadow(_ request: DecisionRequest, _ decision: Decision) {
    guard let challenger = challenger.load(ordering: .acquiring) else { return }
    let share = challengerShare.load(ordering: .relaxed)
    guard Int(FNV1a.hash(decision.decisionId) % 10_000) < share else { return }
    if let shadowDecision = try? challenger.engine.decide(request, decisionId: decision.decisionId) {
      log.recordShadow(shadowDecision)
    }
  }

  /// Loads the bundle at `path` (or the configured one), validates it against the live customers
  /// and publishes it. On any error the live snapshot stays. Returns (previous, current).
  public func reload(from path: String? = nil) throws(ArbiterError) -> (previous: DecisionSnapshot, current: DecisionSnapshot) {
    let previous = snapshot
    let bundle = try ModelBundle.load(from: path ?? bundlePath)
    let engine = try DecisionEngine(bundle: bundle, customers: previous.engine.customers, clock: previous.engine.clock, pacing: previous.engine.pacing)
    try engine.probe()
    let next = DecisionSnapshot(engine: engine, bundle: bundle)
    current.store(next, ordering: .releasing)
    return (previous, next)
  }
}

/// A slot of a page to fill: offers of `contentType` (an offer category; empty takes any).
public struct SlotRequest: Sendable {
  public var name: String
  public var contentType: String
  public var count: Int

  public init(name: String, contentType: String, count: Int) {
    self.name = name
    self.contentType = contentType
    self.count = count
  }
}

/// An offer placed in a slot.
public struct SlotPlacement: Sendable {
  public var slot: String
  public var position: Int
  public var offer: RankedOffer
}

extension LiveState {
  /// The largest number of items one page may ask for.
  public static let maxSlotItems = 20

  /// Fills the slots of a page, in the order given, drawing from the ranked eligible offers: no
  /// offer twice on a page, each slot only its content type, at most the catalogue's number of
  /// offers per category on a page. The logged decision holds the placed offers.
  public func personalize(_ request: DecisionRequest, slots: [SlotRequest]) throws(ArbiterError) -> (Decision, [SlotPlacement]) {
    guard !slots.isEmpty else { throw ArbiterError(.invalidArgument, "slots: at least one slot is required") }
    var names = Set<String>()
    var total = 0
    for (i, slot) in slots.enumerated() {
      guard !slot.name.isEmpty else { throw ArbiterError(.invalidArgument, "slots[\(i)].name is required") }
      guard names.insert(slot.name).inserted else { throw ArbiterError(.invalidArgument, "slots[\(i)].name '\(slot.name)' appears twice") }
      guard slot.count >= 1 else { throw ArbiterError(.invalidArgument, "slots[\(i)].count must be at least 1") }
      total += slot.count
    }
    guard total <= Self.maxSlotItems else { throw ArbiterError(.invalidArgument, "slots ask for \(total) items, at most \(Self.maxSlotItems)") }
    let snapshot = self.snapshot
    var all = request
    all.maxOffers = min(DecisionEngine.maxOffersLimit, max(1, snapshot.engine.catalogue.offers.count))
    let (sequence, id) = log.makeDecisionId(kind: "p")
    let decision = try snapshot.engine.decide(all, decisionId: id, contacts: history(for: request, snapshot.engine), slots: slots)
    // In slot order, then position.
    let order = Dictionary(uniqueKeysWithValues: slots.enumerated().map { ($1.name, $0) })
    let placements = decision.offers.map { SlotPlacement(slot: $0.slot, position: $0.slotPosition, offer: $0) }
      .sorted { (order[$0.slot]!, $0.position) < (order[$1.slot]!, $1.position) }
    log.record(decision, sequence: sequence)
    return (decision, placements)
  }
}

extension LiveState {
  /// Selects an outbound campaign (see ``DecisionEngine/selectOutbound(_:history:)``) and logs
  /// each chosen contact as a decision, so that its outcome can be recorded like any other.
  /// Returns the plan and the decision id of each assignment.
  public func selectOutbound(_ request: OutboundRequest) throws(ArbiterError) -> (OutboundPlan, [String]) {
    let snapshot = self.snapshot
    let needsHistory = snapshot.engine.catalogue.contactPolicy.isActive
    let plan = try snapshot.engine.selectOutbound(request) { id in
      needsHistory ? self.log.recent(customerId: id, limit: self.log.historyPerCustomer) : []
    }
    let nowMillis = Int64((snapshot.engine.clock() * 86_400_000).rounded())
    var ids: [String] = []
    ids.reserveCapacity(plan.assignments.count)
    for assignment in plan.assignments {
      let (sequence, id) = log.makeDecisionId(kind: "o")
      let offer = snapshot.engine.catalogue.offers[assignment.offerIndex].definition
      let made = RankedOffer(
        rank: 1, offerIndex: assignment.offerIndex, offerId: assignment.offerId, name: offer.name, product: offer.product,
        propensity: assignment.propensity, value: offer.value, contextWeight: 1, score: assignment.expectedValue - assignment.cost,
        treatment: assignment.treatment, reasons: [], lever: offer.lever, channelCost: assignment.cost, probability: 1, category: offer.category)
      log.record(Decision(
        decisionId: id, requestId: "", customerId: assignment.customerId, channel: request.channel, versions: snapshot.engine.versions,
        offers: [made], suppressed: [], nanos: 0, timestampMillis: nowMillis, exploration: "outbound"), sequence: sequence)
      ids.append(id)
    }
    return (plan, ids)
  }
}

/// What one look at the bundle root found.
public enum BundleWatchResult: Sendable, Equatable {
  case unchanged
  case published(version: String)
  case refused(directory: String, reason: String)
}

extension LiveState {
  /// Reloads when the configured bundle root has a newer version directory than the one live.
  /// A version that failed is not retried until another one appears.
  public func checkForNewBundle(lastRefused: inout String?) -> BundleWatchResult {
    guard let newest = try? ModelBundle.resolveVersionDirectory(bundlePath) else { return .unchanged }
    if newest == snapshot.bundle.directory || newest == lastRefused { return .unchanged }
    do {
      let (_, current) = try reload(from: newest)
      lastRefused = nil
      return .published(version: current.engine.versions.bundleVersion)
    } catch {
      lastRefused = newest
      return .refused(directory: newest, reason: error.message)
    }
  }
}
