/// Who may call the server: static API keys and the keys that signed bearer tokens (JWT) are
/// checked with. With `required` false every request is let through (the server's default until
/// the doors and tools all carry credentials; see docs/security.md).
public struct AccessConfiguration: Sendable {
  /// A static API key from the configuration file.
  public struct APIKey: Sendable {
    /// Who holds it: the name the audit log and refusals give.
    public var name: String
    /// The secret itself (at least 16 characters); only its SHA-256 digest is kept in memory.
    public var key: String
    /// What it may do.
    public var roles: Role

    /// A key named `name` with `roles`.
    public init(name: String, key: String, roles: Role) {
      self.name = name
      self.key = key
      self.roles = roles
    }
  }

  /// A key that bearer tokens are signed with.
  public struct TokenKey: Sendable {
    /// The signature algorithm and the key material.
    public enum Algorithm: Sendable {
      /// HMAC with SHA-256 (`HS256`): a shared secret of at least 32 bytes.
      case hs256(secret: String)
      /// HMAC with SHA-384 (`HS384`): a shared secret of at least 48 bytes.
      case hs384(secret: String)
      /// HMAC with SHA-512 (`HS512`): a shared secret of at least 64 bytes.
      case hs512(secret: String)
      /// Ed25519 (`EdDSA`): the public key's x coordinate, base64url, as in a JWK.
      case eddsa(publicKey: String)
    }

    /// The key id tokens name in their `kid` header; nil for a key used when they name none.
    public var id: String?
    /// How tokens are signed with it.
    public var algorithm: Algorithm

    /// A token key.
    public init(id: String?, algorithm: Algorithm) {
      self.id = id
      self.algorithm = algorithm
    }
  }

  /// Whether requests must carry a credential (false: all are let through, none is checked).
  public var required: Bool
  /// The static API keys.
  public var apiKeys: [APIKey]
  /// The keys bearer tokens may be signed with.
  public var tokenKeys: [TokenKey]

  /// A configuration; by default nothing is required.
  public init(required: Bool = false, apiKeys: [APIKey] = [], tokenKeys: [TokenKey] = []) {
    self.required = required
    self.apiKeys = apiKeys
    self.tokenKeys = tokenKeys
  }
}
