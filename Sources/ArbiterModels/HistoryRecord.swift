import ArbiterCore

/// One offer made in the past and whether it was accepted: a row of the training history.
public struct HistoryRecord: Sendable, Hashable {
  public var customerId: UInt64
  public var offerId: String
  public var channel: Channel
  /// The probability with which the logging policy made this offer (for off-policy evaluation).
  public var probability: Double
  public var accepted: Bool

  public init(customerId: UInt64, offerId: String, channel: Channel, probability: Double, accepted: Bool) {
    self.customerId = customerId
    self.offerId = offerId
    self.channel = channel
    self.probability = probability
    self.accepted = accepted
  }
}
