import ArbiterCore
import Foundation
import JWTKit
import Synchronization

extension Authenticator {
  /// What a bearer token claims: who (`sub`), until when (`exp`), from when (`nbf`, optional)
  /// and its roles.
  struct TokenClaims: JWTPayload {
    var sub: SubjectClaim
    var exp: ExpirationClaim
    var nbf: NotBeforeClaim?
    var roles: [String]

    /// Nothing here: the expiry and start are checked against the authenticator's clock once the
    /// signature is.
    func verify(using algorithm: some JWTAlgorithm) async throws {}
  }

  /// A configured token key checked and ready to add to the key collection.
  struct PreparedKey: Sendable {
    enum Material: Sendable {
      case hmac(HMACKey, DigestAlgorithm)
      case eddsa(EdDSA.PublicKey)
    }
    let id: JWKIdentifier?
    let material: Material

    func add(to collection: JWTKeyCollection) async {
      switch material {
      case .hmac(let key, let digest): await collection.add(hmac: key, digestAlgorithm: digest, kid: id)
      case .eddsa(let key): await collection.add(eddsa: key, kid: id)
      }
    }
  }

  /// The token keys checked: secrets at least as long as their digest, public keys that parse,
  /// ids not repeated (and at most one key without an id).
  static func prepare(_ keys: [AccessConfiguration.TokenKey]) throws(ArbiterError) -> [PreparedKey] {
    var ids = Set<String>()
    var prepared: [PreparedKey] = []
    for (i, key) in keys.enumerated() {
      let label = key.id.map { "token key '\($0)'" } ?? "token key \(i + 1)"
      guard ids.insert(key.id ?? "").inserted else {
        throw ArbiterError(
          .invalidArgument, key.id == nil ? "two token keys have no id" : "two token keys have the id '\(key.id!)'")
      }
      func secret(_ text: String, bytes: Int, _ digest: DigestAlgorithm) throws(ArbiterError) -> PreparedKey.Material {
        guard text.utf8.count >= bytes else {
          throw ArbiterError(.invalidArgument, "\(label): its secret is shorter than \(bytes) bytes")
        }
        return .hmac(HMACKey(from: text), digest)
      }
      let material: PreparedKey.Material
      switch key.algorithm {
      case .hs256(let text): material = try secret(text, bytes: 32, .sha256)
      case .hs384(let text): material = try secret(text, bytes: 48, .sha384)
      case .hs512(let text): material = try secret(text, bytes: 64, .sha512)
      case .eddsa(let x):
        do {
          material = .eddsa(try EdDSA.PublicKey(x: x, curve: .ed25519))
        } catch {
          throw ArbiterError(.invalidArgument, "\(label): its public key is not a base64url Ed25519 key")
        }
      }
      prepared.append(PreparedKey(id: key.id.map { JWKIdentifier(string: $0) }, material: material))
    }
    return prepared
  }

  /// Who a signed token names, once its signature, expiry and roles are checked.
  func principal(ofToken token: Substring) async throws(ArbiterError) -> Principal {
    guard let tokens, let tokenKeysAdded else {
      throw ArbiterError(.unauthenticated, "the credential looks like a token, but this server accepts no tokens")
    }
    if let known = rememberedToken(token) { return known }
    let text = String(token)
    await tokenKeysAdded.value
    // jwt-kit would check a token naming an unknown key id (or none) with its default key: such a
    // token is refused here instead, so that a key id always means the key it names.
    let kid: String?
    do {
      kid = try DefaultJWTParser().parse(Array(token.utf8), as: TokenClaims.self).header.kid
    } catch {
      throw ArbiterError(.unauthenticated, "the bearer token is not valid: \(Self.reason(error))")
    }
    if let kid {
      guard tokenKeyIds.contains(kid) else {
        throw ArbiterError(
          .unauthenticated, "the bearer token is not valid: it names a key id this server does not have")
      }
    } else if !hasTokenKeyWithoutId {
      throw ArbiterError(.unauthenticated, "the bearer token is not valid: it names no key id (kid)")
    }
    let claims: TokenClaims
    do {
      claims = try await tokens.verify(Array(token.utf8), as: TokenClaims.self)
    } catch {
      throw ArbiterError(.unauthenticated, "the bearer token is not valid: \(Self.reason(error))")
    }
    let time = now()
    if let problem = Self.timeProblem(claims, at: time) {
      throw ArbiterError(.unauthenticated, "the bearer token is not valid: \(problem)")
    }
    let roles: Role
    do {
      roles = try Role(names: claims.roles)
    } catch {
      throw ArbiterError(.unauthenticated, "the bearer token is not valid: \(error.message)")
    }
    let principal = Principal(name: claims.sub.value, roles: roles, credential: .token(expires: claims.exp.value))
    verifiedTokens.withLock { known in
      if known.count >= Self.verifiedTokenLimit { known.removeAll(keepingCapacity: true) }
      known[text] = principal
    }
    return principal
  }

  /// A token verified before and not expired since.
  func rememberedToken(_ token: Substring) -> Principal? {
    guard let known = verifiedTokens.withLock({ $0[String(token)] }), case .token(let expires) = known.credential,
      now() < expires
    else { return nil }
    return known
  }

  /// What is wrong with a token's times at `time`: expired, or not valid yet; nil when neither.
  static func timeProblem(_ claims: TokenClaims, at time: Date) -> String? {
    do {
      try claims.exp.verifyNotExpired(currentDate: time)
      try claims.nbf?.verifyNotBefore(currentDate: time)
      return nil
    } catch {
      return reason(error)
    }
  }

  /// Why jwt-kit refused a token, in a few words (its descriptions carry whole claims).
  static func reason(_ error: any Error) -> String {
    guard let error = error as? JWTError else { return "it cannot be read" }
    switch error.errorType {
    case .claimVerificationFailure:
      return error.reason.map { "a claim failed: \($0)" } ?? "a claim failed"
    case .signatureVerificationFailed: return "its signature does not verify"
    case .malformedToken: return "it is malformed"
    case .unknownKID: return "it names a key id this server does not have"
    case .missingKIDHeader: return "it names no key id"
    case .signingAlgorithmFailure, .unsupportedAlgorithm:
      return "it is signed with an algorithm this server does not accept"
    default: return "\(error.errorType)"
    }
  }
}
