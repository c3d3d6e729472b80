import ArbiterCore

/// A catalogue's adaptive models resolved for its offers: the table, the policy, and per offer
/// and channel the model's slot.
public struct CompiledAdaptive: Sendable {
  /// The catalogue's adaptive policy, validated.
  public let policy: AdaptivePolicy
  /// The table the models live in (the live state's, kept across reloads).
  public let models: AdaptiveModels
  /// Per `offer * Channel.allCases.count + channel`: the model's slot.
  let slots: [Int]
  /// Per offer: which prior its model started from.
  public let priors: [AdaptiveModels.Prior]

  /// The slot of an offer's model on a channel.
  @inline(__always)
  public func slot(offer: Int, channel: Channel) -> Int { slots[offer * Channel.allCases.count + channel.ordinal] }

  /// Resolves (creating where new) every offer's model; throws when the table is full.
  init(
    policy: AdaptivePolicy, models: AdaptiveModels, offerIds: [String], priors: [AdaptiveModels.Prior]
  ) throws(ArbiterError) {
    self.policy = policy
    self.models = models
    self.priors = priors
    var slots: [Int] = []
    for (offer, id) in offerIds.enumerated() {
      for channel in Channel.allCases {
        let key = AdaptiveModels.key(offerId: id, prior: priors[offer], channel: policy.perChannel ? channel : nil)
        guard let slot = models.slot(key: key, prior: priors[offer], policy: policy) else {
          throw ArbiterError(
            .resourceExhausted, "the adaptive models' table is full (\(models.capacity) models): reset it")
        }
        slots.append(slot)
      }
    }
    self.slots = slots
  }
}
