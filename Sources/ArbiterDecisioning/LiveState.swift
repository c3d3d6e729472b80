import ArbiterCore
import ArbiterModels
import Atomics
import Foundation
import Synchronization

/// Everything a decision reads, immutable once built: the engine (catalogue, models, customers)
/// and where it came from.
public final class DecisionSnapshot: AtomicReference, Sendable {
  /// The engine that decides with this snapshot's catalogue, models and customers.
  public let engine: DecisionEngine
  /// The bundle the engine was built from.
  public let bundle: ModelBundle
  /// When the snapshot was built, in milliseconds since the Unix epoch.
  public let loadedAtMillis: Int64

  /// Creates a snapshot of an engine and its bundle, stamped with the current time.
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
  /// The interaction log every decision and outcome is recorded in.
  public let log: InteractionLog
  /// The challenger of shadow scoring, and the share of decisions (in 1/10,000) it scores.
  private let challenger = ManagedAtomic<DecisionSnapshot?>(nil)
  private let challengerShare = ManagedAtomic<Int>(0)
  /// The bundle location reloads read from when none is given.
  public let bundlePath: String
  /// Decisions per door, for the dashboard.
  public let traffic = DecisionTraffic()
  /// Offers not made, by reason, over every decision (explained or not), for the dashboard.
  public let suppressions = SuppressionCounts()
  /// Decisions made (and logged) per channel, by the channel's raw value; for the metrics.
  let decisionsByChannel = (0...Channel.allCases.count).map { _ in ManagedAtomic<UInt64>(0) }
  /// Fallback decisions per channel, by the channel's raw value; for the metrics.
  let fallbacksByChannel = (0...Channel.allCases.count).map { _ in ManagedAtomic<UInt64>(0) }
  /// Shadow scorings skipped for want of time.
  let shadowsSkipped = ManagedAtomic<UInt64>(0)

  /// Decisions made per channel since start.
  public var decisionCounts: [(channel: Channel, decisions: UInt64)] {
    Channel.allCases.map { ($0, decisionsByChannel[$0.rawValue].load(ordering: .relaxed)) }
  }

  /// Where a request (Reload, SetChallenger) may load bundles from.
  public let modelRoots: ModelRoots
  /// Told of every erasure, after the store and the log (see ``addErasureParticipant(_:)``).
  let erasureParticipants = Mutex<[any ErasureParticipant]>([])
  /// The promotion gate's recent verdicts, newest first (see ``promoteChallenger(dryRun:margin:nowMillis:)``).
  let verdicts = Mutex<[PromotionGate.Verdict]>([])

  /// When a challenger may be promoted (``promoteChallenger(dryRun:margin:nowMillis:)``).
  public let promotionGate: PromotionGate
  /// Joins outcomes with their decisions' features for the adaptive models.
  public let adaptiveLearner = AdaptiveLearner()
  /// Orders outcome learning against adaptive snapshots.
  let adaptiveOrder = Mutex<Void>(())

  /// Starts serving `snapshot`, logging to `log`; reloads without a path read `bundlePath`;
  /// requests may name bundles under `modelRoots` (by default the directory holding `bundlePath`);
  /// challengers are promoted as `promotion` allows.
  public init(
    snapshot: DecisionSnapshot, log: InteractionLog, bundlePath: String, modelRoots: ModelRoots? = nil,
    promotion: PromotionGate.Configuration = PromotionGate.Configuration()
  ) {
    self.promotionGate = PromotionGate(configuration: promotion)
    self.current = ManagedAtomic(snapshot)
    self.log = log
    self.bundlePath = bundlePath
    self.modelRoots = modelRoots ?? .containing(bundlePath: bundlePath)
  }

  /// The snapshot serving now.
  public var snapshot: DecisionSnapshot { current.load(ordering: .acquiring) }

  /// Decides against the current snapshot and logs the decision.
  ///
  /// `stillWanted` is asked once the decision is made: when it says no (the caller's deadline
  /// passed), the decision's quota and capacity are given back, nothing is logged or added to the
  /// customer's contact history, and the call fails with `deadlineExceeded`.
  public func decide(_ request: DecisionRequest, stillWanted: () -> Bool = { true }) throws(ArbiterError) -> Decision {
    let (sequence, id) = log.makeDecisionId(kind: .decide)
    let engine = snapshot.engine
    let challenger = shadowChallenger(for: id)
    let contacts = history(for: request, engine, challenger?.engine)
    let decision = try engine.decide(request, decisionId: id, contacts: contacts)
    guard stillWanted() else {
      engine.releaseReservations(of: decision)
      throw ArbiterError(.deadlineExceeded, "the deadline passed while deciding; the decision was not made")
    }
    // Remembered before it is logged: a snapshot that includes its log line includes it too.
    if engine.catalogue.adaptive != nil { adaptiveLearner.remember(decision) }
    log.record(decision, sequence: sequence)
    suppressions.add(decision.suppressionTally)
    decisionsByChannel[request.channel.rawValue].wrappingIncrement(ordering: .relaxed)
    if decision.fallback { fallbacksByChannel[request.channel.rawValue].wrappingIncrement(ordering: .relaxed) }
    if let challenger { shadowWithinBudget(request, decision, contacts: contacts, challenger: challenger.engine) }
    return decision
  }

  /// Shadow scoring, when the champion's decision left time for it (it never changes the
  /// answer, so a slow challenger is skipped rather than let it make the answer late).
  private func shadowWithinBudget(
    _ request: DecisionRequest, _ decision: Decision, contacts: [ContactRecord], challenger: DecisionEngine
  ) {
    guard !decision.fallback, request.deadline == .max || DispatchTime.now().uptimeNanoseconds < request.deadline
    else {
      shadowsSkipped.wrappingIncrement(ordering: .relaxed)
      return
    }
    shadow(request, decision, contacts: contacts, challenger: challenger)
  }

  /// Decisions that ran out of time and answered with the fallback offers, per channel.
  public var fallbackCounts: [(channel: Channel, decisions: UInt64)] {
    Channel.allCases.map { ($0, fallbacksByChannel[$0.rawValue].load(ordering: .relaxed)) }
  }

  /// Shadow scorings skipped because the decision had no time left for them.
  public var shadowsSkippedCount: UInt64 { shadowsSkipped.load(ordering: .relaxed) }

  /// The customer's recent interactions, when the contact policy of the champion (or of the
  /// challenger scoring this decision) needs them.
  func history(
    for request: DecisionRequest, _ engine: DecisionEngine, _ challenger: DecisionEngine? = nil
  ) -> [ContactRecord] {
    guard !request.anonymous,
      engine.catalogue.contactPolicy.isActive || challenger?.catalogue.contactPolicy.isActive == true
    else { return [] }
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
    guard share.isFinite, share >= 0, share <= 1 else {
      throw ArbiterError(.invalidArgument, "share must be between 0 and 1, got \(share)")
    }
    guard let path, share > 0 else {
      challenger.store(nil, ordering: .releasing)
      challengerShare.store(0, ordering: .relaxed)
      return
    }
    let live = snapshot
    let bundle = try ModelBundle.load(from: path)
    // Its own pacing: a challenger's draws must never use the champion's quotas.
    let engine = try DecisionEngine(
      bundle: bundle, customers: live.engine.customers, clock: live.engine.clock, pacing: PacingState())
    try engine.probe()
    challengerShare.store(Int((share * 10_000).rounded()), ordering: .relaxed)
    challenger.store(DecisionSnapshot(engine: engine, bundle: bundle), ordering: .releasing)
  }

  /// The challenger that scores the decision with this id, if shadow scoring is on and the
  /// decision falls in its share (chosen by a hash of the decision id, so the choice is stable).
  private func shadowChallenger(for decisionId: String) -> DecisionSnapshot? {
    guard let challenger = challenger.load(ordering: .acquiring) else { return nil }
    let share = challengerShare.load(ordering: .relaxed)
    return Int(FNV1a.hash(decisionId) % 10_000) < share ? challenger : nil
  }

  /// Logs what the challenger would have decided, on the same inputs as the champion: the same
  /// request and the same contact history.
  private func shadow(
    _ request: DecisionRequest, _ decision: Decision, contacts: [ContactRecord], challenger: DecisionEngine
  ) {
    if let shadowDecision = try? challenger.decide(request, decisionId: decision.decisionId, contacts: contacts) {
      log.recordShadow(shadowDecision)
    }
  }

  /// Loads the bundle at `path` (or the configured one), validates it against the live customers
  /// and publishes it. On any error the live snapshot stays. Returns (previous, current).
  public func reload(
    from path: String? = nil
  ) throws(ArbiterError) -> (previous: DecisionSnapshot, current: DecisionSnapshot) {
    let previous = snapshot
    let bundle = try ModelBundle.load(from: path ?? bundlePath)
    let engine = try DecisionEngine(
      bundle: bundle, customers: previous.engine.customers, clock: previous.engine.clock, pacing: previous.engine.pacing,
      adaptive: previous.engine.catalogue.adaptive?.models)
    try engine.probe()
    let next = DecisionSnapshot(engine: engine, bundle: bundle)
    current.store(next, ordering: .releasing)
    return (previous, next)
  }
}

/// A slot of a page to fill: offers of `contentType` (an offer category; empty takes any).
public struct SlotRequest: Sendable {
  /// The slot's name, unique on the page.
  public var name: String
  /// The offer category the slot takes; empty takes any.
  public var contentType: String
  /// How many offers the slot holds (at least 1).
  public var count: Int

  /// Creates a slot of `count` offers of `contentType`.
  public init(name: String, contentType: String, count: Int) {
    self.name = name
    self.contentType = contentType
    self.count = count
  }
}

/// An offer placed in a slot.
public struct SlotPlacement: Sendable {
  /// The name of the slot the offer was placed in.
  public var slot: String
  /// The 1-based position in the slot.
  public var position: Int
  /// The offer placed.
  public var offer: RankedOffer
}

extension LiveState {
  /// The largest number of items one page may ask for.
  public static let maxSlotItems = 20

  /// Fills the slots of a page, in the order given, drawing from the ranked eligible offers: no
  /// offer twice on a page, each slot only its content type, at most the catalogue's number of
  /// offers per category on a page. The logged decision holds the placed offers.
  ///
  /// `stillWanted` is asked once the page is decided, as by ``decide(_:stillWanted:)``.
  public func personalize(
    _ request: DecisionRequest, slots: [SlotRequest], stillWanted: () -> Bool = { true }
  ) throws(ArbiterError) -> (Decision, [SlotPlacement]) {
    guard !slots.isEmpty else { throw ArbiterError(.invalidArgument, "a page needs at least one slot") }
    var names = Set<String>()
    var total = 0
    for slot in slots {
      guard !slot.name.isEmpty else { throw ArbiterError(.invalidArgument, "a slot needs a name") }
      guard names.insert(slot.name).inserted else {
        throw ArbiterError(.invalidArgument, "slot '\(slot.name)' appears twice")
      }
      guard slot.count >= 1 else {
        throw ArbiterError(.invalidArgument, "slot '\(slot.name)' must hold at least 1 item")
      }
      total += slot.count
    }
    guard total <= Self.maxSlotItems else {
      throw ArbiterError(.invalidArgument, "the slots ask for \(total) items, at most \(Self.maxSlotItems)")
    }
    let snapshot = self.snapshot
    var all = request
    all.maxOffers = min(DecisionEngine.maxOffersLimit, max(1, snapshot.engine.catalogue.offers.count))
    let (sequence, id) = log.makeDecisionId(kind: .page)
    let decision = try snapshot.engine.decide(
      all, decisionId: id, contacts: history(for: request, snapshot.engine), slots: slots)
    guard stillWanted() else {
      snapshot.engine.releaseReservations(of: decision)
      throw ArbiterError(.deadlineExceeded, "the deadline passed while deciding; the page was not decided")
    }
    // Filled slot by slot, so already in slot order, then position.
    let placements = decision.offers.map { SlotPlacement(slot: $0.slot, position: $0.slotPosition, offer: $0) }
    log.record(decision, sequence: sequence)
    suppressions.add(decision.suppressionTally)
    decisionsByChannel[request.channel.rawValue].wrappingIncrement(ordering: .relaxed)
    if decision.fallback { fallbacksByChannel[request.channel.rawValue].wrappingIncrement(ordering: .relaxed) }
    return (decision, placements)
  }
}

extension LiveState {
  /// Selects an outbound campaign (see ``DecisionEngine/selectOutbound(_:commit:history:)``).
  /// A committed run logs each chosen contact as a decision, so that its outcome can be recorded
  /// like any other, and each control-group customer the selection reached as a decision with
  /// the holdout and no offer; it uses quota, capacity and the customers' contact history. A dry
  /// run (`commit` false) changes nothing and logs nothing. Returns the plan and, for a committed
  /// run, the decision id of each assignment.
  public func selectOutbound(
    _ request: OutboundRequest, commit: Bool = true
  ) throws(ArbiterError) -> (OutboundPlan, [String]) {
    let snapshot = self.snapshot
    let engine = snapshot.engine
    let needsHistory = engine.catalogue.contactPolicy.isActive
    let plan = try engine.selectOutbound(request, commit: commit) { id in
      needsHistory ? self.log.recent(customerId: id, limit: self.log.historyPerCustomer) : []
    }
    guard commit else { return (plan, []) }
    let nowMillis = Int64((engine.clock() * 86_400_000).rounded())
    var controls: [UInt64: [ControlHoldout]] = [:]
    for held in plan.controls {
      controls[held.customerId, default: []].append(
        ControlHoldout(offerId: held.offerId, propensity: held.propensity, priority: held.net))
    }
    var ids: [String] = []
    ids.reserveCapacity(plan.assignments.count)
    for assignment in plan.assignments {
      let offer = engine.catalogue.offers[assignment.offerIndex].definition
      let made = RankedOffer(
        rank: 1, offerIndex: assignment.offerIndex, offerId: assignment.offerId, name: offer.name,
        product: offer.product,
        propensity: assignment.propensity, value: offer.value, contextWeight: 1,
        score: assignment.expectedValue - assignment.cost,
        treatment: assignment.treatment, reasons: [], lever: offer.lever, channelCost: assignment.cost, probability: 1,
        category: offer.category)
      ids.append(
        logOutbound(
          customer: assignment.customerId, offers: [made],
          controls: controls.removeValue(forKey: assignment.customerId) ?? [],
          request, engine, nowMillis: nowMillis))
    }
    for held in plan.controls where controls[held.customerId] != nil {
      _ = logOutbound(
        customer: held.customerId, offers: [], controls: controls.removeValue(forKey: held.customerId)!, request,
        engine,
        nowMillis: nowMillis)
    }
    return (plan, ids)
  }

  /// Logs one customer's part of a campaign as a decision; returns its id.
  private func logOutbound(
    customer: UInt64, offers: [RankedOffer], controls: [ControlHoldout], _ request: OutboundRequest,
    _ engine: DecisionEngine,
    nowMillis: Int64
  ) -> String {
    let (sequence, id) = log.makeDecisionId(kind: .outbound)
    log.record(
      Decision(
        decisionId: id, requestId: "", customerId: customer, channel: request.channel, versions: engine.versions,
        offers: offers, suppressed: [], nanos: 0, timestampMillis: nowMillis, controls: controls,
        exploration: "outbound"),
      sequence: sequence)
    return id
  }
}

/// What one look at the bundle root found.
public enum BundleWatchResult: Sendable, Equatable {
  /// No new version directory appeared (or the newest is already live).
  case unchanged
  /// A new version was loaded and published; `version` is its bundle version.
  case published(version: String)
  /// A new version directory was found but refused; the live bundle stays.
  case refused(directory: String, reason: String)
}

/// What the bundle watcher has seen of the bundle root: the newest version directory at its
/// last look. Only a version directory that was not there before is published, so a manual
/// reload (to an older version, or to a bundle elsewhere) stays until another version is dropped
/// into the root; a version that failed is not retried until another one appears.
public struct BundleWatchState: Sendable, Equatable {
  /// The newest version directory seen so far.
  public var seen: String?

  /// A watcher that has seen `seen` (the version live when the watch starts).
  public init(seen: String?) { self.seen = seen }
}

extension LiveState {
  /// Where the watcher starts: the bundle root's newest version now.
  public func startBundleWatch() -> BundleWatchState {
    BundleWatchState(seen: (try? ModelBundle.resolveVersionDirectory(bundlePath)) ?? snapshot.bundle.directory)
  }

  /// Reloads when a version directory newer than any seen before appears in the configured
  /// bundle root.
  public func checkForNewBundle(_ watch: inout BundleWatchState) -> BundleWatchResult {
    guard let newest = try? ModelBundle.resolveVersionDirectory(bundlePath), newest != watch.seen else {
      return .unchanged
    }
    watch.seen = newest
    if newest == snapshot.bundle.directory { return .unchanged }
    do {
      let (_, current) = try reload(from: newest)
      return .published(version: current.engine.versions.bundleVersion)
    } catch {
      return .refused(directory: newest, reason: error.message)
    }
  }
}
