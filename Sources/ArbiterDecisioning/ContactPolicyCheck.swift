import ArbiterCore

/// The catalogue's contact policy applied to one customer's recent history at one moment:
/// frequency caps per channel, the weekly limit, no repeat of an offer recently accepted or
/// declined, and a cool-down on an offer's category after a decline.
struct ContactPolicyCheck {
  private var channelBlocked: String?
  private var offerBlocked: [Int: String] = [:]
  let offersLeftThisWeek: Int

  init(catalogue: CompiledCatalogue, channel: Channel, history: [InteractionEntry], nowMillis: Int64) {
    let policy = catalogue.contactPolicy
    let day: Double = 86_400_000
    func within(_ entry: InteractionEntry, days: Double) -> Bool { Double(nowMillis - entry.timestampMillis) < days * day }
    for cap in policy.frequencyCaps where cap.channel == channel {
      var decisions = Set<String>()
      for entry in history where entry.outcome == nil && entry.channel == channel && within(entry, days: cap.windowDays) {
        decisions.insert(entry.decisionId)
      }
      if decisions.count >= cap.max {
        channelBlocked = "frequency cap: \(decisions.count) contacts through \(channel.name) in \(cap.windowDays.formatted()) days (cap \(cap.max))"
      }
    }
    if policy.maxOffersPerWeek > 0 {
      let made = history.filter { $0.outcome == nil && within($0, days: 7) }.count
      offersLeftThisWeek = max(0, policy.maxOffersPerWeek - made)
    } else {
      offersLeftThisWeek = .max
    }
    var declinedCategories: [String: String] = [:]
    for entry in history {
      guard let outcome = entry.outcome, let index = catalogue.offerIndex[entry.offerId] else { continue }
      if policy.noRepeatDays > 0, outcome == .accept || outcome == .decline, within(entry, days: policy.noRepeatDays), offerBlocked[index] == nil {
        offerBlocked[index] = "\(outcome == .accept ? "accepted" : "declined") within the last \(policy.noRepeatDays.formatted()) days"
      }
      if policy.declineCooldownDays > 0, outcome == .decline, within(entry, days: policy.declineCooldownDays) {
        let category = catalogue.offers[index].definition.category
        if declinedCategories[category] == nil { declinedCategories[category] = entry.offerId }
      }
    }
    if !declinedCategories.isEmpty {
      for offer in catalogue.offers where offerBlocked[offer.index] == nil {
        if let declined = declinedCategories[offer.definition.category] {
          offerBlocked[offer.index] = "cool-down: '\(declined)' of category \(offer.definition.category) declined within \(policy.declineCooldownDays.formatted()) days"
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
