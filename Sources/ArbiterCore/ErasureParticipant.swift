/// A part of the server outside the store and the interaction log that may hold a customer's
/// personal data in memory (a queued call, a cache), told when the customer is erased.
public protocol ErasureParticipant: AnyObject, Sendable {
  /// What the participant holds, for the erasure's report, e.g. "queued call".
  var erasureNoun: String { get }
  /// Forgets everything it holds of `customerId`; returns how many items it removed or made anonymous.
  func forget(customerId: UInt64) -> Int
}
