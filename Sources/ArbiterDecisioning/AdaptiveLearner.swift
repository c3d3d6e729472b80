import ArbiterCore
import Foundation
import Synchronization

/// Joins outcomes with what their decisions saw, for the adaptive models: remembers each recent
/// decision's features and, per offer made, the offline log-odds its adaptive model refined;
/// an accept or conversion is learnt as a response, a decline as none, and an offer with no
/// outcome when its response window closes (``expire(before:engine:)``) as none. Each offer is
/// learnt once (its first outcome): a retried outcome is not learnt twice.
///
/// A bounded ring: a decision pushed out before its offers settled is counted, not learnt.
public final class AdaptiveLearner: Sendable {
  /// One remembered decision.
  public struct Entry: Sendable, Codable, Hashable {
    public struct Offer: Sendable, Codable, Hashable {
      public var offerId: String
      public var logOdds: Double
      public var settled: Bool
    }
    public var decisionId: String
    public var channel: String
    public var timestampMillis: Int64
    public var features: [Float]
    public var offers: [Offer]
  }

  /// What was learnt, since the start.
  public struct Counts: Sendable, Hashable, Codable {
    public var responses: UInt64 = 0
    public var declines: UInt64 = 0
    /// Offers whose window closed without an outcome (learnt as no response).
    public var expired: UInt64 = 0
    /// Outcomes for decisions no longer (or never) remembered.
    public var unknown: UInt64 = 0
    /// Offers pushed out of the ring before they settled.
    public var lost: UInt64 = 0
    /// Updates the models refused.
    public var refused: UInt64 = 0
  }

  struct State {
    var ring: [Entry?]
    var next = 0
    var index: [String: Int] = [:]
    var counts = Counts()
    /// The oldest remembered decision not yet expired (decisions are remembered in time order),
    /// and how many from it on are not.
    var cursor = 0
    var unexpired = 0
  }

  /// The most decisions remembered.
  public let capacity: Int
  private let state: Mutex<State>

  /// A learner remembering up to `capacity` decisions.
  public init(capacity: Int = 262_144) {
    self.capacity = max(1, capacity)
    state = Mutex(State(ring: Array(repeating: nil, count: max(1, capacity))))
  }

  /// Remembers a decision whose offers the adaptive models scored (others are ignored).
  public func remember(_ decision: Decision) {
    let offers = decision.offers.compactMap { offer in
      offer.offlineLogOdds.map { Entry.Offer(offerId: offer.offerId, logOdds: $0, settled: false) }
    }
    guard !offers.isEmpty, !decision.features.isEmpty else { return }
    remember(
      Entry(
        decisionId: decision.decisionId, channel: decision.channel.name, timestampMillis: decision.timestampMillis,
        features: decision.features, offers: offers))
  }

  /// Remembers an entry (a decision, or one read back from the log or a snapshot).
  public func remember(_ entry: Entry) {
    state.withLock { state in
      if let old = state.ring[state.next] {
        state.index[old.decisionId] = nil
        state.counts.lost += UInt64(old.offers.lazy.filter { !$0.settled }.count)
      }
      state.ring[state.next] = entry
      state.index[entry.decisionId] = state.next
      state.next = (state.next + 1) % capacity
      if state.unexpired == capacity {
        // The oldest unexpired one was pushed out.
        state.cursor = state.next
      } else {
        state.unexpired += 1
      }
    }
  }

  /// Learns an outcome with `engine` (the live one): true when learnt now.
  @discardableResult
  public func learn(decisionId: String, offerId: String, outcome: OutcomeKind, engine: DecisionEngine) -> Bool {
    let label: Bool
    switch outcome {
    case .accept, .convert: label = true
    case .decline: label = false
    default: return false
    }
    return state.withLock { state in
      guard let slot = state.index[decisionId], var entry = state.ring[slot],
        let k = entry.offers.firstIndex(where: { $0.offerId == offerId })
      else {
        state.counts.unknown += 1
        return false
      }
      guard !entry.offers[k].settled else { return false }
      entry.offers[k].settled = true
      state.ring[slot] = entry
      let learnt = Self.learn(entry, offer: entry.offers[k], label: label, engine: engine)
      if !learnt {
        state.counts.refused += 1
      } else if label {
        state.counts.responses += 1
      } else {
        state.counts.declines += 1
      }
      return learnt
    }
  }

  /// Learns every offer of decisions made before `cutoffMillis` that has no outcome as no
  /// response; returns how many.
  @discardableResult
  public func expire(before cutoffMillis: Int64, engine: DecisionEngine) -> Int {
    state.withLock { state in
      var learnt = 0
      // From the oldest not yet expired, while they are older than the cutoff.
      while state.unexpired > 0 {
        let slot = state.cursor
        guard var entry = state.ring[slot], entry.timestampMillis < cutoffMillis else { break }
        for k in entry.offers.indices where !entry.offers[k].settled {
          entry.offers[k].settled = true
          if Self.learn(entry, offer: entry.offers[k], label: false, engine: engine) {
            state.counts.expired += 1
            learnt += 1
          } else {
            state.counts.refused += 1
          }
        }
        state.ring[slot] = entry
        state.cursor = (slot + 1) % capacity
        state.unexpired -= 1
      }
      return learnt
    }
  }

  private static func learn(_ entry: Entry, offer: Entry.Offer, label: Bool, engine: DecisionEngine) -> Bool {
    engine.learn(
      offerId: offer.offerId, channel: Channel(name: entry.channel) ?? .web, offlineLogOdds: offer.logOdds,
      features: entry.features, label: label)
  }

  /// The counts so far.
  public var counts: Counts { state.withLock { $0.counts } }

  /// The remembered decisions with an offer not yet settled, oldest first (for a snapshot).
  public func pending() -> [Entry] {
    state.withLock { state in
      (0..<capacity).compactMap { state.ring[(state.next + $0) % capacity] }
        .filter { $0.offers.contains { !$0.settled } }
    }
  }

  /// How many remembered decisions have an offer not yet settled.
  public var pendingCount: Int {
    state.withLock { state in state.ring.lazy.filter { $0?.offers.contains { !$0.settled } == true }.count }
  }

  /// Forgets everything remembered (the counts stay).
  public func clear() {
    state.withLock { state in
      state.ring = Array(repeating: nil, count: capacity)
      state.index = [:]
      state.next = 0
      state.cursor = 0
      state.unexpired = 0
    }
  }
}
