import ArbiterCore

/// What a caller may do, as a set: each request needs one role, and a credential carries any
/// number of them.
/// - `decide`: Decide, Personalize, RecordOutcomes (and SelectOutbound);
/// - `profile-read`: GetProfile, which returns personal data;
/// - `profile-write`: UpsertProfiles, IngestEvents, consent;
/// - `admin`: Reload, SetChallenger, promotion, erasure, status.
public struct Role: OptionSet, Hashable, Sendable, CustomStringConvertible {
  /// The roles' bits.
  public let rawValue: UInt8

  /// A set from its bits.
  public init(rawValue: UInt8) { self.rawValue = rawValue }

  /// Deciding for customers and recording what they did.
  public static let decide = Role(rawValue: 1 << 0)
  /// Reading a customer's profile (personal data).
  public static let profileRead = Role(rawValue: 1 << 1)
  /// Writing profiles, events and consent.
  public static let profileWrite = Role(rawValue: 1 << 2)
  /// Operating the server: models, challengers, erasure, status.
  public static let admin = Role(rawValue: 1 << 3)
  /// Every role (the admin token made on first start carries them all).
  public static let all: Role = [.decide, .profileRead, .profileWrite, .admin]

  /// Each role with its name in configuration files and tokens.
  public static let named: [(name: String, role: Role)] = [
    ("decide", .decide), ("profile-read", .profileRead), ("profile-write", .profileWrite), ("admin", .admin),
  ]

  /// The roles named, e.g. `["decide", "profile-read"]`; an unknown name is refused, naming it
  /// and the names there are.
  public init(names: some Sequence<String>) throws(ArbiterError) {
    var roles: Role = []
    for name in names {
      guard let role = Self.named.first(where: { $0.name == name })?.role else {
        throw ArbiterError(
          .invalidArgument,
          "unknown role '\(name)' (the roles are \(Self.named.map(\.name).joined(separator: ", ")))")
      }
      roles.insert(role)
    }
    self = roles
  }

  /// The names of the roles in the set, in the order of ``named``.
  public var names: [String] { Self.named.filter { contains($0.role) }.map(\.name) }

  /// The names, comma-separated.
  public var description: String { names.isEmpty ? "no role" : names.joined(separator: ", ") }
}
