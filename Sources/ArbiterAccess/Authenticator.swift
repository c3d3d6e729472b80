import ArbiterCore
import Crypto
import Foundation
import JWTKit
import Synchronization

/// Checks the credential a request carries and the role it needs, before any work is done.
///
/// A credential is `Bearer <secret>`: an API key from the configuration, or a signed token
/// (JWT, three base64url parts) verified with jwt-kit against the configured token keys, with an
/// expiry (`exp`, required), an optional `nbf`, a subject (`sub`) and its roles (`roles`, an
/// array of role names). API keys are compared by their SHA-256 digests, every configured key
/// each time and every byte of each, so that the time taken says nothing of how close a guess
/// came. Refusals are counted.
public final class Authenticator: Sendable {
  /// Whether credentials are required; when not, every request is let through unchecked.
  public let required: Bool
  private let apiKeys: [(name: String, digest: [UInt8], roles: Role)]
  let tokens: JWTKeyCollection?
  /// Adds the token keys to the collection (an actor); awaited before the first verification.
  let tokenKeysAdded: Task<Void, Never>?
  /// The configured token keys' ids, and whether one has none (for tokens that name no key).
  let tokenKeyIds: Set<String>
  let hasTokenKeyWithoutId: Bool
  /// Tokens already verified, by their text, until they expire. Verifying one costs about
  /// 125 µs (base64, JSON, the key collection's actor; measured over gRPC Decide, BENCHMARKS.md),
  /// looking one up here well under a microsecond; the lock is held for the lookup alone.
  let verifiedTokens = Mutex<[String: Principal]>([:])
  /// The most tokens remembered; past it the memory is cleared and refilled.
  static let verifiedTokenLimit = 10_000
  /// Browsers' login sessions by their id (``openSession(for:lifetime:)``).
  let sessions = Mutex<[String: Principal]>([:])
  /// The most sessions open at once; past it, expired ones are dropped, then new ones refused.
  static let sessionLimit = 10_000
  let unauthenticatedCount = Atomic<UInt64>(0)
  private let permissionDeniedCount = Atomic<UInt64>(0)

  /// The time tokens' expiry and start are checked against.
  let now: @Sendable () -> Date

  /// An authenticator for `configuration`; a key that is too short, a duplicate name or id, or a
  /// public key that does not parse is refused, naming it. `now` is the clock tokens are checked
  /// against (tests move it).
  public init(
    configuration: AccessConfiguration, now: @escaping @Sendable () -> Date = { Date() }
  ) throws(ArbiterError) {
    required = configuration.required
    self.now = now
    var names = Set<String>()
    var keys: [(name: String, digest: [UInt8], roles: Role)] = []
    for (i, key) in configuration.apiKeys.enumerated() {
      guard !key.name.isEmpty else { throw ArbiterError(.invalidArgument, "API key \(i + 1) has no name") }
      guard names.insert(key.name).inserted else {
        throw ArbiterError(.invalidArgument, "two API keys are named '\(key.name)'")
      }
      guard key.key.utf8.count >= 16 else {
        throw ArbiterError(.invalidArgument, "API key '\(key.name)' is shorter than 16 characters")
      }
      keys.append((key.name, Array(SHA256.hash(data: Array(key.key.utf8))), key.roles))
    }
    apiKeys = keys
    tokenKeyIds = Set(configuration.tokenKeys.compactMap(\.id))
    hasTokenKeyWithoutId = configuration.tokenKeys.contains { $0.id == nil }
    if configuration.tokenKeys.isEmpty {
      tokens = nil
      tokenKeysAdded = nil
      return
    }
    let prepared = try Self.prepare(configuration.tokenKeys)
    let collection = JWTKeyCollection()
    tokens = collection
    tokenKeysAdded = Task {
      for key in prepared { await key.add(to: collection) }
    }
  }

  /// How many requests were refused for missing or bad credentials, and for a missing role.
  public var refusals: (unauthenticated: UInt64, permissionDenied: UInt64) {
    (unauthenticatedCount.load(ordering: .relaxed), permissionDeniedCount.load(ordering: .relaxed))
  }

  /// What a check could settle without waiting.
  public enum ImmediateCheck: Sendable {
    /// Let through: the caller, who holds the role, or nil when credentials are not required.
    case allowed(Principal?)
    /// Refused, and counted: UNAUTHENTICATED or PERMISSION_DENIED.
    case refused(ArbiterError)
    /// A token not verified before: ``authorize(authorization:needs:for:)`` verifies it.
    case needsVerifying
  }

  /// The check as far as it goes without waiting: API keys and tokens verified before are
  /// settled here (a door answering on its event loop uses this), a new token is not.
  public func checkWithoutWaiting(
    authorization: String?, needs role: Role, for action: @autoclosure () -> String
  ) -> ImmediateCheck {
    guard required else { return .allowed(nil) }
    do throws(ArbiterError) {
      let secret = try Self.bearer(in: authorization)
      if secret.contains(".") {
        guard let known = rememberedToken(secret) else { return .needsVerifying }
        return judge(known, needs: role, for: action())
      }
      return judge(try holder(ofAPIKey: secret), needs: role, for: action())
    } catch {
      unauthenticatedCount.add(1, ordering: .relaxed)
      return .refused(error)
    }
  }

  /// The principal an `authorization` header value names, if it may do what `role` allows;
  /// nil when credentials are not required. `action` names the request in refusals, e.g.
  /// "arbiter.v1.DecisionService/Decide".
  public func authorize(
    authorization: String?, needs role: Role, for action: @autoclosure () -> String
  ) async throws(ArbiterError) -> Principal? {
    switch checkWithoutWaiting(authorization: authorization, needs: role, for: action()) {
    case .allowed(let principal): return principal
    case .refused(let error): throw error
    case .needsVerifying: return try await verifyThenJudge(authorization: authorization, needs: role, for: action())
    }
  }

  /// The rest of a check that ``checkWithoutWaiting(authorization:needs:for:)`` left: verifying a
  /// token not seen before, then its role.
  func verifyThenJudge(
    authorization: String?, needs role: Role, for action: @autoclosure () -> String
  ) async throws(ArbiterError) -> Principal {
    let principal: Principal
    do {
      principal = try await verify(token: try Self.bearer(in: authorization))
    } catch {
      unauthenticatedCount.add(1, ordering: .relaxed)
      throw error
    }
    if case .refused(let error) = judge(principal, needs: role, for: action()) { throw error }
    return principal
  }

  /// What a bare credential (an API key or a token, without `Bearer `) names, as far as it goes
  /// without waiting: the lean protocol's hello frame carries one for its whole connection.
  public enum Identification: Sendable {
    /// The holder of an API key, or of a token verified before.
    case known(Principal)
    /// Not a credential this server accepts; counted.
    case refused(ArbiterError)
    /// A token not verified before: ``identify(credential:)`` verifies it.
    case needsVerifying
  }

  /// Who `credential` names, without waiting; an unknown API key is refused and counted.
  public func identifyWithoutWaiting(credential: Substring) -> Identification {
    guard !credential.isEmpty else {
      unauthenticatedCount.add(1, ordering: .relaxed)
      return .refused(ArbiterError(.unauthenticated, "the credential is empty"))
    }
    if credential.contains(".") {
      return rememberedToken(credential).map { .known($0) } ?? .needsVerifying
    }
    do throws(ArbiterError) {
      return .known(try holder(ofAPIKey: credential))
    } catch {
      unauthenticatedCount.add(1, ordering: .relaxed)
      return .refused(error)
    }
  }

  /// Who `credential` names, verifying a token not seen before; a refusal is counted.
  public func identify(credential: Substring) async throws(ArbiterError) -> Principal {
    switch identifyWithoutWaiting(credential: credential) {
    case .known(let principal): return principal
    case .refused(let error): throw error
    case .needsVerifying:
      do { return try await verify(token: credential) } catch {
        unauthenticatedCount.add(1, ordering: .relaxed)
        throw error
      }
    }
  }

  /// Whether `principal`, identified earlier (a lean connection's hello), may still do what
  /// `role` allows: nil when it may; UNAUTHENTICATED once its token has expired, or
  /// PERMISSION_DENIED without the role, counted.
  public func permit(_ principal: Principal, needs role: Role, for action: @autoclosure () -> String) -> ArbiterError? {
    switch principal.credential {
    case .apiKey: break
    case .token(let expires):
      guard now() < expires else {
        unauthenticatedCount.add(1, ordering: .relaxed)
        return ArbiterError(.unauthenticated, "the bearer token of '\(principal.name)' has expired")
      }
    case .session(let expires):
      guard now() < expires else {
        unauthenticatedCount.add(1, ordering: .relaxed)
        return ArbiterError(.unauthenticated, "the login session of '\(principal.name)' has expired: log in again")
      }
    }
    if case .refused(let error) = judge(principal, needs: role, for: action()) { return error }
    return nil
  }

  /// Counts a request refused for carrying no credential at all (a door that checks for one
  /// before asking here, such as a lean connection without a hello).
  public func countMissingCredential() { unauthenticatedCount.add(1, ordering: .relaxed) }

  /// Allowed when `principal` holds `role`; a refusal otherwise, counted.
  private func judge(_ principal: Principal, needs role: Role, for action: @autoclosure () -> String) -> ImmediateCheck
  {
    guard principal.roles.contains(role) else {
      permissionDeniedCount.add(1, ordering: .relaxed)
      return .refused(
        ArbiterError(
          .permissionDenied,
          "'\(principal.name)' may not call \(action()): it needs the role \(role), and '\(principal.name)' has \(principal.roles)"
        ))
    }
    return .allowed(principal)
  }

  /// Who an `authorization` header value (`Bearer <API key or token>`) names.
  public func authenticate(authorization: String?) async throws(ArbiterError) -> Principal {
    let secret = try Self.bearer(in: authorization)
    if !secret.contains(".") { return try holder(ofAPIKey: secret) }
    return try await principal(ofToken: secret)
  }

  /// The holder of an API key; an unknown key is refused.
  private func holder(ofAPIKey secret: Substring) throws(ArbiterError) -> Principal {
    guard let principal = principal(ofAPIKey: secret) else {
      throw ArbiterError(.unauthenticated, "the API key is not one this server knows")
    }
    return principal
  }

  /// The holder of an API key, or nil. Constant time in the key: every configured digest is
  /// compared whole.
  public func principal(ofAPIKey secret: Substring) -> Principal? {
    let digest = Array(SHA256.hash(data: Array(secret.utf8)))
    var found: Int?
    for (i, key) in apiKeys.enumerated() {
      var difference: UInt8 = 0
      for j in 0..<digest.count { difference |= digest[j] ^ key.digest[j] }
      if difference == 0 { found = i }
    }
    return found.map { Principal(name: apiKeys[$0].name, roles: apiKeys[$0].roles, credential: .apiKey) }
  }

  /// The credential in `Bearer <credential>` (the scheme in any case).
  static func bearer(in authorization: String?) throws(ArbiterError) -> Substring {
    guard let authorization, !authorization.isEmpty else {
      throw ArbiterError(
        .unauthenticated, "no credentials: send the header 'authorization: Bearer <API key or token>'")
    }
    let parts = authorization.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
    guard parts.count == 2, parts[0].lowercased() == "bearer" else {
      throw ArbiterError(.unauthenticated, "the authorization header is not 'Bearer <API key or token>'")
    }
    let secret = parts[1].drop { $0 == " " }
    guard !secret.isEmpty else { throw ArbiterError(.unauthenticated, "the bearer credential is empty") }
    return secret
  }
}
