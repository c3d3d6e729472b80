import ArbiterAPI
import ArbiterCore
import Foundation

extension ConsentPurpose {
  /// The domain purpose for a wire one; throws INVALID_ARGUMENT naming `field` otherwise.
  init(proto: Arbiter_V1_ConsentPurpose, field: String) throws(ArbiterError) {
    switch proto {
    case .marketing: self = .marketing
    case .service: self = .service
    case .profiling: self = .profiling
    case .unspecified: throw ArbiterError(.invalidArgument, "\(field) is required (marketing, service or profiling)")
    case .UNRECOGNIZED(let value): throw ArbiterError(.invalidArgument, "\(field): unknown purpose \(value)")
    }
  }

  /// The wire purpose.
  package var proto: Arbiter_V1_ConsentPurpose {
    switch self {
    case .marketing: .marketing
    case .service: .service
    case .profiling: .profiling
    }
  }
}

extension ConsentState {
  /// The domain state for a wire one (given or withdrawn); throws INVALID_ARGUMENT naming `field` otherwise.
  init(proto: Arbiter_V1_ConsentState, field: String) throws(ArbiterError) {
    switch proto {
    case .given: self = .given
    case .withdrawn: self = .withdrawn
    case .unspecified: throw ArbiterError(.invalidArgument, "\(field) is required (given or withdrawn)")
    case .UNRECOGNIZED(let value): throw ArbiterError(.invalidArgument, "\(field): unknown state \(value)")
    }
  }

  /// The wire state.
  package var proto: Arbiter_V1_ConsentState {
    switch self {
    case .unrecorded: .unspecified
    case .given: .given
    case .withdrawn: .withdrawn
    }
  }
}

extension ConsentChange {
  /// The latest time a change may carry on the wire, in milliseconds (the OpenAPI document's bound).
  static let latestMillis: Int64 = 9_999_999_999_999

  /// The domain change for a wire one, checked field by field (naming `field`); a time of 0 is `nowMillis`.
  init(proto: Arbiter_V1_ConsentChange, field: String, nowMillis: Int64) throws(ArbiterError) {
    guard proto.customerID != 0 else { throw ArbiterError(.invalidArgument, "\(field).customer_id is required") }
    let channel = try Channel(proto: proto.channel, field: "\(field).channel")
    let purpose = try ConsentPurpose(proto: proto.purpose, field: "\(field).purpose")
    let state = try ConsentState(proto: proto.state, field: "\(field).state")
    guard proto.timestampMillis >= 0 else {
      throw ArbiterError(.invalidArgument, "\(field).timestamp_millis is negative")
    }
    guard proto.timestampMillis <= Self.latestMillis else {
      throw ArbiterError(
        .invalidArgument, "\(field).timestamp_millis \(proto.timestampMillis) is past \(Self.latestMillis) (the year 2286)")
    }
    if let problem = ConsentRecord.sourceProblem(proto.source) {
      throw ArbiterError(.invalidArgument, "\(field).\(problem)")
    }
    self.init(
      customerId: proto.customerID,
      record: ConsentRecord(
        channel: channel, purpose: purpose, state: state,
        timestampMillis: proto.timestampMillis == 0 ? nowMillis : proto.timestampMillis, source: proto.source))
  }
}

extension ConsentRecord {
  /// The wire consent.
  package var proto: Arbiter_V1_Consent {
    .with {
      $0.channel = channel.proto
      $0.purpose = purpose.proto
      $0.state = state.proto
      $0.granted = state == .given
      $0.timestampMillis = timestampMillis
      $0.source = source
    }
  }
}
