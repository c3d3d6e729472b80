/// A call the contact centre handles: a call-back a customer asked for on the website, or a call
/// the telephony system announced.
public struct QueuedCall: Sendable, Hashable {
  /// Where a call came from.
  public enum Origin: Sendable, Hashable {
    /// The customer pressed "Call me" on the website.
    case callback
    /// The customer called in.
    case inbound
  }

  /// The call's id, "c-" and a number.
  public var id: String
  /// The caller; 0 for an anonymous visitor's call-back.
  public var customerId: UInt64
  /// Where it came from.
  public var origin: Origin
  /// Why they call, when known.
  public var callReason: String
  /// For a call-back: the page it was asked for on and what the customer was looking at.
  public var page: String
  /// What the customer was looking at, e.g. "Fixed-rate mortgage".
  public var viewing: String
  /// For a call-back: the decision that offered it.
  public var decisionId: String
  /// An anonymous visitor's first-party id.
  public var visitorId: String
  /// A number to call, when known.
  public var phoneNumber: String
  /// When it was queued, in milliseconds since the epoch.
  public var queuedAtMillis: Int64
  /// The agent it went to; empty while it waits.
  public var agentId: String = ""

  /// A call with an id and the caller's context.
  public init(
    id: String, customerId: UInt64, origin: Origin, callReason: String = "", page: String = "",
    viewing: String = "", decisionId: String = "", visitorId: String = "", phoneNumber: String = "",
    queuedAtMillis: Int64, agentId: String = ""
  ) {
    self.agentId = agentId
    self.id = id
    self.customerId = customerId
    self.origin = origin
    self.callReason = callReason
    self.page = page
    self.viewing = viewing
    self.decisionId = decisionId
    self.visitorId = visitorId
    self.phoneNumber = phoneNumber
    self.queuedAtMillis = queuedAtMillis
  }
}
