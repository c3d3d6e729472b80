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

    /// Nothing here (jwt-kit's own verification is not used): the expiry and start are checked
    /// against the authenticator's clock once the signature is.
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

  /// Who a signed token names: remembered from an earlier verification, or verified now.
  func principal(ofToken token: Substring) async throws(ArbiterError) -> Principal {
    if let known = rememberedToken(token) { return known }
    return try await verify(token: token)
  }

  /// Verifies a token once: jwt-kit parses it, the key it names (``tokenKeyIds``; jwt-kit would
  /// fall back to its default key for an unknown id, which is refused here so that an id always
  /// means its key) checks the signature over the header and payload, then its times (on
  /// ``now``) and roles are checked. The principal is remembered until the token expires.
  func verify(token: Substring) async throws(ArbiterError) -> Principal {
    func invalid(_ reason: String) -> ArbiterError {
      ArbiterError(.unauthenticated, "the bearer token is not valid: \(reason)")
    }
    guard let tokens, let tokenKeysAdded else {
      throw ArbiterError(.unauthenticated, "the credential looks like a token, but this server accepts no tokens")
    }
    let bytes = Array(token.utf8)
    let parsed: (header: JWTHeader, payload: TokenClaims, signature: Data)
    do { parsed = try DefaultJWTParser().parse(bytes, as: TokenClaims.self) } catch {
      throw invalid(Self.reason(error))
    }
    let kid = parsed.header.kid
    if let kid {
      guard tokenKeyIds.contains(kid) else { throw invalid("it names a key id this server does not have") }
    } else if !hasTokenKeyWithoutId {
      throw invalid("it names no key id (kid)")
    }
    await tokenKeysAdded.value
    do {
      let key = try await tokens.getKey(for: kid.map { JWKIdentifier(string: $0) })
      // What was signed: the header and payload as sent, up to the second dot.
      let signed = bytes.prefix(upTo: bytes.lastIndex(of: UInt8(ascii: ".")) ?? bytes.endIndex)
      guard try key.verify(parsed.signature, signs: signed) else { throw JWTError.signatureVerificationFailed }
    } catch {
      throw invalid(Self.reason(error))
    }
    let claims = parsed.payload
    if let problem = Self.timeProblem(claims, at: now()) { throw invalid(problem) }
    let roles: Role
    do { roles = try Role(names: claims.roles) } catch { throw invalid(error.message) }
    let principal = Principal(name: claims.sub.value, roles: roles, credential: .token(expires: claims.exp.value))
    let text = String(token)
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
