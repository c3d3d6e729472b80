/// A channel through which Arbiter decides: inbound (web, app, contact centre, branch, ATM) or
/// outbound (e-mail, SMS).
public enum Channel: Int, CaseIterable, Sendable, Codable, Hashable, CustomStringConvertible {
  /// The bank's website.
  case web = 1
  /// The bank's mobile app.
  case mobileApp = 2
  /// A call with a contact-centre agent.
  case contactCentre = 3
  /// A visit to a branch, with an adviser.
  case branch = 4
  /// A cash machine screen.
  case atm = 5
  /// An e-mail sent by the bank (outbound).
  case email = 6
  /// A text message sent by the bank (outbound).
  case sms = 7

  /// The name used in catalogues, configuration and on the command line.
  public var name: String {
    switch self {
    case .web: "web"
    case .mobileApp: "mobile-app"
    case .contactCentre: "contact-centre"
    case .branch: "branch"
    case .atm: "atm"
    case .email: "email"
    case .sms: "sms"
    }
  }

  /// Whether the customer starts the interaction (web, app, calling, walking in, at an ATM)
  /// rather than the bank (e-mail, SMS).
  public var isInbound: Bool { self != .email && self != .sms }

  /// Whether a person (an agent or branch adviser) presents the offer, so a script is needed.
  public var isAssisted: Bool { self == .contactCentre || self == .branch }

  /// The channel's catalogue name, e.g. "mobile-app".
  public var description: String { name }

  /// The channel with this name, accepting `_` for `-` and any case.
  public init?(name: String) {
    let normalised = String(name.lowercased().map { $0 == "_" ? "-" : $0 })
    guard let match = Channel.allCases.first(where: { $0.name == normalised }) else { return nil }
    self = match
  }

  /// Zero-based position among all channels, for dense per-channel tables.
  @inlinable public var ordinal: Int { rawValue - 1 }

  /// Decodes a channel from its name (any case, `_` for `-`); throws a `DecodingError` on an unknown name.
  public init(from decoder: any Decoder) throws {
    let container = try decoder.singleValueContainer()
    let name = try container.decode(String.self)
    guard let channel = Channel(name: name) else {
      throw DecodingError.dataCorruptedError(
        in: container, debugDescription: "unknown channel '\(name)'")
    }
    self = channel
  }

  /// Encodes the channel as its catalogue name.
  public func encode(to encoder: any Encoder) throws {
    var container = encoder.singleValueContainer()
    try container.encode(name)
  }
}
