/// A customer's consents as one word: two bits (a ``ConsentState``) per channel and purpose, so a
/// decision reads them with one atomic load and tests one with a shift and a mask.
public struct ConsentSet: Sendable, Hashable {
  /// The packed states; bits `2 × (channel ordinal × purposes + purpose)` and the one above.
  public var bits: UInt64

  /// No consent recorded for anything.
  public static let none = ConsentSet(bits: 0)

  /// A set from its packed bits.
  @inlinable public init(bits: UInt64) { self.bits = bits }

  @inlinable static func shift(_ channel: Channel, _ purpose: ConsentPurpose) -> UInt64 {
    UInt64(2 * (channel.ordinal * ConsentPurpose.allCases.count + purpose.rawValue))
  }

  /// The recorded state for `channel` and `purpose`.
  @inlinable public func state(_ channel: Channel, _ purpose: ConsentPurpose) -> ConsentState {
    ConsentState(rawValue: UInt8((bits >> Self.shift(channel, purpose)) & 3)) ?? .unrecorded
  }

  /// Whether consent for `purpose` on `channel` is given (unrecorded is not).
  @inlinable public func allows(_ channel: Channel, _ purpose: ConsentPurpose) -> Bool {
    (bits >> Self.shift(channel, purpose)) & 3 == UInt64(ConsentState.given.rawValue)
  }

  /// Sets the state for `channel` and `purpose`.
  @inlinable public mutating func set(_ state: ConsentState, _ channel: Channel, _ purpose: ConsentPurpose) {
    let shift = Self.shift(channel, purpose)
    bits = (bits & ~(3 << shift)) | (UInt64(state.rawValue) << shift)
  }
}
