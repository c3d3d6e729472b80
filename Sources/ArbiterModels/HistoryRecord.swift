import ArbiterCore

/// One offer made in the past and whether it was accepted: a row of the training history.
public struct HistoryRecord: Sendable, Hashable {
  /// The customer the offer was made to.
  public var customerId: UInt64
  /// The offer made.
  public var offerId: String
  /// The channel it was made on.
  public var channel: Channel
  /// The probability with which the logging policy made this offer (for off-policy evaluation).
  public var probability: Double
  /// Whether the customer accepted it.
  public var accepted: Bool

  /// Creates a history row.
  public init(customerId: UInt64, offerId: String, channel: Channel, probability: Double, accepted: Bool) {
    self.customerId = customerId
    self.offerId = offerId
    self.channel = channel
    self.probability = probability
    self.accepted = accepted
  }
}
