/// A lean-protocol violation: the connection gets an error frame naming it, then is closed.
public struct LeanProtocolError: Error, Sendable, Equatable {
  /// What was violated, as the error frame says it.
  public var message: String

  /// A violation described by `message`.
  public init(message: String) {
    self.message = message
  }
}
