/// Who may call the server: static API keys, the keys that signed bearer tokens (JWT) are checked
/// with, and the credentials the server makes itself on first start. With `required` false every
/// request is let through (allowed on loopback only; see docs/security.md).
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
  /// Where the server keeps the admin token it makes on first start (every role; the tools, the
  /// C client and the console read it there); nil makes none.
  public var adminTokenFile: String?
  /// Where the server keeps the site key it makes on first start (`decide` only, for the web
  /// snippet, whose pages publish it); nil makes none.
  public var siteKeyFile: String?
  /// The audit log's file (admin actions and refused attempts at them, JSON lines, appended);
  /// nil keeps it in memory only.
  public var auditLog: String?

  /// A configuration requiring credentials (unless `required` is false) from `apiKeys` and
  /// tokens signed with `tokenKeys`; with the files given, the server makes an admin token and a
  /// site key there when they do not exist, and accepts them.
  public init(
    required: Bool = true, apiKeys: [APIKey] = [], tokenKeys: [TokenKey] = [], adminTokenFile: String? = nil,
    siteKeyFile: String? = nil, auditLog: String? = nil
  ) {
    self.auditLog = auditLog
    self.required = required
    self.apiKeys = apiKeys
    self.tokenKeys = tokenKeys
    self.adminTokenFile = adminTokenFile
    self.siteKeyFile = siteKeyFile
  }

  /// The server's default: credentials required, an admin token and a site key made on first
  /// start in its data directory, and the audit log there.
  public static let serverDefault = AccessConfiguration(
    adminTokenFile: "arbiter-data/admin-token", siteKeyFile: "arbiter-data/site-key",
    auditLog: "arbiter-data/audit.jsonl")
}
