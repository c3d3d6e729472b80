/// What a customer's consent is for. An offer is made for a purpose (``marketing`` unless its
/// catalogue entry says ``service``); ``profiling`` covers choosing by the customer's stored data.
public enum ConsentPurpose: Int, CaseIterable, Sendable, Hashable, Codable, CustomStringConvertible {
  /// Offers of products and services.
  case marketing = 0
  /// Service messages about what the customer already has.
  case service = 1
  /// Using the customer's profile to choose what to show: without it a decision sees no stored feature.
  case profiling = 2

  /// The name used in catalogues, CSV files and the HTTP API.
  public var name: String {
    switch self {
    case .marketing: "marketing"
    case .service: "service"
    case .profiling: "profiling"
    }
  }

  /// The purpose's name, e.g. "marketing".
  public var description: String { name }

  /// The purpose with this name (any case).
  public init?(name: String) {
    guard let match = Self.allCases.first(where: { $0.name == name.lowercased() }) else { return nil }
    self = match
  }

  /// Decodes a purpose from its name; throws a `DecodingError` on an unknown one.
  public init(from decoder: any Decoder) throws {
    let container = try decoder.singleValueContainer()
    let name = try container.decode(String.self)
    guard let purpose = ConsentPurpose(name: name) else {
      throw DecodingError.dataCorruptedError(
        in: container, debugDescription: "unknown purpose '\(name)' (marketing, service or profiling)")
    }
    self = purpose
  }

  /// Encodes the purpose as its name.
  public func encode(to encoder: any Encoder) throws {
    var container = encoder.singleValueContainer()
    try container.encode(name)
  }
}

/// Whether a consent is given, withdrawn, or was never recorded (which counts as not given).
public enum ConsentState: UInt8, Sendable, Hashable, CustomStringConvertible {
  /// Nothing recorded: not consented.
  case unrecorded = 0
  /// Given.
  case given = 1
  /// Withdrawn.
  case withdrawn = 2

  /// "unrecorded", "given" or "withdrawn".
  public var description: String {
    switch self {
    case .unrecorded: "unrecorded"
    case .given: "given"
    case .withdrawn: "withdrawn"
    }
  }

  /// "given" or "withdrawn" (any case); nil otherwise.
  public init?(name: String) {
    switch name.lowercased() {
    case "given": self = .given
    case "withdrawn": self = .withdrawn
    default: return nil
    }
  }
}
