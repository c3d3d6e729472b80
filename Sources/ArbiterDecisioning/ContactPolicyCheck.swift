import ArbiterCore

/// What the contact policy reads of one past offer or outcome: the decision it belongs to as a
/// number (offers of one decision are one contact), the offer, channel, outcome and time.
public struct ContactRecord: Sendable, Hashable {
  /// The decision the record belongs to, as a number (the FNV-1a hash of its id): offers of one decision count as one
  /// contact.
  public var decision: UInt64
  /// The id of the offer made or answered.
  public var offerId: String
  /// The channel the offer was made on.
  public var channel: Channel
  /// nil for an offer made.
  public var outcome: OutcomeKind?
  /// When the offer was made or the outcome recorded, in milliseconds since the Unix epoch.
  public var timestampMillis: Int64

  /// Creates a record from its parts; `outcome` is nil for an offer made.
  public init(decision: UInt64, offerId: String, channel: Channel, outcome: OutcomeKind?, timestampMillis: Int64) {
    self.decision = decision
    self.offerId = offerId
    self.channel = channel
    self.outcome = outcome
    self.timestampMillis = timestampMillis
  }

  /// The record of a history entry, its decision id hashed to the number.
  public init(_ entry: InteractionEntry) {
    self.init(
      decision: FNV1a.hash(entry.decisionId), offerId: entry.offerId, channel: entry.channel, outcome: entry.outcome,
      timestampMillis: entry.timestampMillis)
  }
}

/// The catalogue's contact policy applied to one customer's recent history at one moment:
/// frequency caps per channel, the weekly limit, no repeat of an offer recently accepted or
/// declined, and a cool-down on an offer's category after a decline.
struct ContactPolicyCheck {
  private var channelBlocked: String?
  private var offerBlocked: [Int: String] = [:]
  private(set) var offersLeftThisWeek: Int

  init(catalogue: CompiledCatalogue, channel: Channel, history: [ContactRecord], nowMillis: Int64) {
    let policy = catalogue.contactPolicy
    offersLeftThisWeek = policy.maxOffersPerWeek > 0 ? policy.maxOffersPerWeek : .max
    // Nothing to check (a new customer, or no rule): no work.
    guard !history.isEmpty, policy.isActive else { return }
    let day: Double = 86_400_000
    func within(_ entry: ContactRecord, days: Double) -> Bool { Double(nowMillis - entry.timestampMillis) < days * day }
    for cap in policy.frequencyCaps where cap.channel == channel {
      var decisions: [UInt64] = []
      for entry in history where entry.outcome == nil && entry.channel == channel && within(entry, days: cap.windowDays)
      {
        if !decisions.contains(entry.decision) { decisions.append(entry.decision) }
      }
      if decisions.count >= cap.max {
        channelBlocked =
          "frequency cap: \(decisions.count) contacts through \(channel.name) in \(cap.windowDays.formatted()) days "
          + "(cap \(cap.max))"
      }
    }
    if policy.maxOffersPerWeek > 0 {
      let made = history.filter { $0.outcome == nil && within($0, days: 7) }.count
      offersLeftThisWeek = max(0, policy.maxOffersPerWeek - made)
    }
    var declinedCategories: [String: String] = [:]
    for entry in history {
      guard let outcome = entry.outcome, let index = catalogue.offerIndex[entry.offerId] else { continue }
      if policy.noRepeatDays > 0, outcome == .accept || outcome == .decline, within(entry, days: policy.noRepeatDays),
        offerBlocked[index] == nil
      {
        offerBlocked[index] =
          "\(outcome == .accept ? "accepted" : "declined") within the last \(policy.noRepeatDays.formatted()) days"
      }
      if policy.declineCooldownDays > 0, outcome == .decline, within(entry, days: policy.declineCooldownDays) {
        let category = catalogue.offers[index].definition.category
        if declinedCategories[category] == nil { declinedCategories[category] = entry.offerId }
      }
    }
    if !declinedCategories.isEmpty {
      for offer in catalogue.offers where offerBlocked[offer.index] == nil {
        if let declined = declinedCategories[offer.definition.category] {
          let days = policy.declineCooldownDays.formatted()
          offerBlocked[offer.index] =
            "cool-down: '\(declined)' of category \(offer.definition.category) declined within \(days) days"
        }
      }
    }
  }

  /// Why the offer may not be made now, or nil.
  func blocked(offer: Int) -> String? { channelBlocked ?? offerBlocked[offer] }
}

extension Double {
  /// "7" rather than "7.0".
  func formatted() -> String { self == rounded() ? String(Int(self)) : String(self) }
}
