import Foundation

/// Who a request comes from, once its credential is checked: a name for the audit log and the
/// roles it holds.
public struct Principal: Hashable, Sendable {
  /// How the caller proved who it is.
  public enum Credential: Hashable, Sendable {
    /// A static API key from the configuration.
    case apiKey
    /// A signed bearer token (JWT), valid until its expiry.
    case token(expires: Date)
    /// A browser's login session (a cookie), opened with another credential, valid until it
    /// expires or is closed.
    case session(expires: Date)
  }

  /// When the credential stops being valid; nil for an API key, valid until it is removed.
  public var expires: Date? {
    switch credential {
    case .apiKey: return nil
    case .token(let expires), .session(let expires): return expires
    }
  }

  /// The API key's name, or the token's subject (`sub`).
  public var name: String
  /// What it may do.
  public var roles: Role
  /// The kind of credential.
  public var credential: Credential

  /// A principal with these roles.
  public init(name: String, roles: Role, credential: Credential) {
    self.name = name
    self.roles = roles
    self.credential = credential
  }
}
