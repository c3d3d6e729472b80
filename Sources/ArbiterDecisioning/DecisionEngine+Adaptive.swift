import ArbiterCore
import ArbiterModels
import Foundation

extension DecisionEngine {
  /// A probability's log-odds, the probability kept within (1e-12, 1 − 1e-12).
  @inline(__always)
  static func logOdds(_ p: Double) -> Double {
    let q = min(max(p, 1e-12), 1 - 1e-12)
    return log(q / (1 - q))
  }

  /// Learns one outcome of an offer this engine's catalogue made: with the features the decision
  /// saw (its ``Decision/features``) and the offline log-odds it refined. False when the
  /// catalogue has no adaptive models, the offer is not this catalogue's, the decision carries
  /// no features, or the update is refused (not finite).
  @discardableResult
  public func learn(
    offerId: String, channel: Channel, offlineLogOdds: Double, features: [Float], label: Bool
  ) -> Bool {
    guard let adaptive = catalogue.adaptive, let offer = catalogue.offerIndex[offerId], features.count >= schema.width
    else { return false }
    return features.withUnsafeBufferPointer { all in
      adaptive.models.update(
        slot: adaptive.slot(offer: offer, channel: channel), logit: offlineLogOdds,
        customer: UnsafeBufferPointer(rebasing: all[0..<schema.width]), label: label,
        drift: adaptive.policy.driftVariance)
    }
  }

  /// Learns the outcome of a decision's offer (see ``learn(offerId:channel:offlineLogOdds:features:label:)``).
  @discardableResult
  public func learn(_ decision: Decision, offer: RankedOffer, label: Bool) -> Bool {
    guard let logOdds = offer.offlineLogOdds else { return false }
    return learn(
      offerId: offer.offerId, channel: decision.channel, offlineLogOdds: logOdds, features: decision.features,
      label: label)
  }
}
