import ArbiterAPI
import ArbiterAccess
import ArbiterCore
import ArbiterServer
import Crypto
import Foundation
import GRPCCore
import JWTKit
import Synchronization
import Testing

/// Credentials and roles: API keys and signed tokens checked by ``Authenticator``, and the gRPC
/// door refusing calls before any work.
@Suite struct AccessTests {
  static let decideKey = "decide-key-0123456789"
  static let adminKey = "admin-key-0123456789abc"
  static let secret = "a shared secret of thirty-two bytes or more"

  static func configuration(eddsa publicKey: String? = nil) -> AccessConfiguration {
    var keys: [AccessConfiguration.TokenKey] = [.init(id: "hs", algorithm: .hs256(secret: secret))]
    if let publicKey { keys.append(.init(id: "ed", algorithm: .eddsa(publicKey: publicKey))) }
    return AccessConfiguration(
      required: true,
      apiKeys: [
        .init(name: "web-frontend", key: decideKey, roles: .decide),
        .init(name: "operator", key: adminKey, roles: .all),
      ],
      tokenKeys: keys)
  }

  struct Claims: JWTPayload {
    var sub: SubjectClaim
    var exp: ExpirationClaim
    var roles: [String]
    func verify(using algorithm: some JWTAlgorithm) async throws {}
  }

  /// A token signed with the shared secret (or `key`), for `roles`, expiring `after` seconds from now.
  static func token(
    roles: [String], after: TimeInterval = 600, kid: String = "hs", key: String = secret
  ) async throws -> String {
    let keys = JWTKeyCollection()
    await keys.add(hmac: HMACKey(from: key), digestAlgorithm: .sha256, kid: JWKIdentifier(string: kid))
    return try await keys.sign(
      Claims(sub: "agent-7", exp: ExpirationClaim(value: Date().addingTimeInterval(after)), roles: roles),
      kid: JWKIdentifier(string: kid))
  }

  @Test func rolesAreNamedAsInTheConfiguration() throws {
    #expect(try Role(names: ["decide", "profile-read"]) == [.decide, .profileRead])
    #expect(Role.all.names == ["decide", "profile-read", "profile-write", "admin"])
    #expect(throws: ArbiterError.self) { try Role(names: ["root"]) }
  }

  @Test func apiKeysAreRecognisedAndAnythingElseIsUnauthenticated() async throws {
    let access = try Authenticator(configuration: Self.configuration())
    let web = try await access.authenticate(authorization: "Bearer \(Self.decideKey)")
    #expect(web.name == "web-frontend" && web.roles == .decide && web.credential == .apiKey)
    #expect(try await access.authenticate(authorization: "bearer  \(Self.adminKey)").roles == .all)
    for (header, words) in [
      (nil, "no credentials"), ("", "no credentials"), ("Basic abc", "not 'Bearer"),
      ("Bearer decide-key-0123456788", "not one this server knows"), ("Bearer", "not 'Bearer"),
    ] {
      await #expect {
        _ = try await access.authenticate(authorization: header)
      } throws: { error in
        guard let error = error as? ArbiterError else { return false }
        return error.code == .unauthenticated && error.message.contains(words)
      }
    }
  }

  @Test func signedTokensAreVerifiedWithTheirExpiryAndRoles() async throws {
    let signing = Curve25519.Signing.PrivateKey()
    let x = signing.publicKey.rawRepresentation.base64EncodedString()
      .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
      .replacingOccurrences(of: "=", with: "")
    let access = try Authenticator(configuration: Self.configuration(eddsa: x))
    let good = try await access.authenticate(authorization: "Bearer \(try await Self.token(roles: ["profile-read"]))")
    #expect(good.name == "agent-7" && good.roles == .profileRead)
    guard case .token(let expires) = good.credential else { Issue.record("not a token"); return }
    #expect(expires > Date())

    let edKeys = JWTKeyCollection()
    await edKeys.add(eddsa: try EdDSA.PrivateKey(backing: signing), kid: "ed")
    let edToken = try await edKeys.sign(
      Claims(sub: "batch", exp: ExpirationClaim(value: Date().addingTimeInterval(60)), roles: ["profile-write"]),
      kid: "ed")
    #expect(try await access.authenticate(authorization: "Bearer \(edToken)").roles == .profileWrite)

    let refused: [(String, String)] = [
      (try await Self.token(roles: ["decide"], after: -5), "expired"),
      (try await Self.token(roles: ["decide"], key: "another secret of thirty-two bytes, or more"), "signature"),
      (try await Self.token(roles: ["decide"], kid: "nope"), "key id"),
      (try await Self.token(roles: ["superuser"]), "unknown role 'superuser'"),
      ("ey.not.atoken", "not valid"),
      (try await Self.token(roles: ["decide"], kid: ""), "key id"),
    ]
    for (token, words) in refused {
      do {
        let principal = try await access.authenticate(authorization: "Bearer \(token)")
        Issue.record("a token that should be refused (\(words)) was taken as \(principal)")
      } catch {
        #expect(error.code == .unauthenticated && error.message.contains(words), "\(error.message)")
      }
    }
  }

  @Test func aRememberedTokenStillExpires() async throws {
    let clock = Mutex(Date())
    let access = try Authenticator(configuration: Self.configuration(), now: { clock.withLock { $0 } })
    let token = try await Self.token(roles: ["decide"], after: 600)
    // Verified, then taken from memory, until its expiry passes on the authenticator's clock.
    #expect(try await access.authenticate(authorization: "Bearer \(token)").name == "agent-7")
    clock.withLock { $0 += 590 }
    #expect(try await access.authenticate(authorization: "Bearer \(token)").name == "agent-7")
    clock.withLock { $0 += 20 }
    do {
      _ = try await access.authenticate(authorization: "Bearer \(token)")
      Issue.record("an expired token was taken from memory")
    } catch {
      #expect(error.code == .unauthenticated && error.message.contains("expired"), "\(error.message)")
    }
    // Back at the present the token is valid again: the memory holds its expiry, not a verdict.
    clock.withLock { $0 = Date() }
    #expect(try await access.authenticate(authorization: "Bearer \(token)").roles == .decide)
  }

  @Test func badConfigurationIsRefusedNamingTheKey() {
    func refused(_ configuration: AccessConfiguration, _ words: String) {
      #expect {
        _ = try Authenticator(configuration: configuration)
      } throws: { error in (error as? ArbiterError)?.message.contains(words) == true }
    }
    refused(.init(apiKeys: [.init(name: "short", key: "tiny", roles: .decide)]), "'short' is shorter than 16")
    refused(
      .init(apiKeys: [
        .init(name: "twice", key: Self.decideKey, roles: .decide),
        .init(name: "twice", key: Self.adminKey, roles: .all),
      ]), "two API keys are named 'twice'")
    refused(.init(tokenKeys: [.init(id: "k", algorithm: .hs256(secret: "short"))]), "token key 'k'")
    refused(.init(tokenKeys: [.init(id: "e", algorithm: .eddsa(publicKey: "***"))]), "not a base64url Ed25519 key")
  }

  @Test func theGRPCDoorRefusesBeforeAnyWorkAndCountsRefusals() async throws {
    let server = try TestSupport.makeServer { $0.access = Self.configuration() }
    let decisionsBefore = server.live.log.counts.decisions
    try await withInProcessClient(server) { client in
      let decisions = Arbiter_V1_DecisionService.Client(wrapping: client)
      let profiles = Arbiter_V1_ProfileService.Client(wrapping: client)
      let request = Arbiter_V1_DecideRequest.with {
        $0.customerID = 100_042
        $0.channel = .web
      }
      await expectStatus(.unauthenticated, containing: "no credentials") {
        _ = try await decisions.decide(request)
      }
      await expectStatus(.unauthenticated, containing: "not one this server knows") {
        _ = try await decisions.decide(request, metadata: ["authorization": "Bearer wrong-key-0123456789"])
      }
      let web: Metadata = ["authorization": "Bearer \(Self.decideKey)"]
      let answer = try await decisions.decide(request, metadata: web)
      #expect(!answer.decisionID.isEmpty)
      await expectStatus(.permissionDenied, containing: "needs the role profile-read") {
        _ = try await profiles.getProfile(.with { $0.customerID = 100_042 }, metadata: web)
      }
      let profile = try await profiles.getProfile(
        .with { $0.customerID = 100_042 }, metadata: ["authorization": "Bearer \(Self.adminKey)"])
      #expect(profile.customerID == 100_042)
      // Health is open to all: load balancers probe it without credentials.
      let health = Grpc_Health_V1_Health.Client(wrapping: client)
      #expect(try await health.check(.init()).status == .serving)
    }
    // Only the one authorised Decide was made.
    #expect(server.live.log.counts.decisions == decisionsBefore + 1)
    #expect(server.authenticator.refusals == (unauthenticated: 2, permissionDenied: 1))
  }

  @Test func theConfigurationFileNamesKeysAndRoles() async throws {
    let yaml = """
      access:
        required: true
        api-keys:
          - {name: web-frontend, key: "\(Self.decideKey)", roles: [decide]}
        token-keys:
          - {id: hs, hs256: "\(Self.secret)"}
      """
    let configuration = try ArbiterConfiguration.parse(yaml, file: "arbiter.yaml")
    #expect(configuration.access.required)
    let access = try Authenticator(configuration: configuration.access)
    #expect(try await access.authenticate(authorization: "Bearer \(Self.decideKey)").name == "web-frontend")
    let token = try await Self.token(roles: ["decide", "admin"])
    #expect(try await access.authenticate(authorization: "Bearer \(token)").roles == [.decide, .admin])
    for (text, words) in [
      ("access: {required: yes please}", "access.required: must be true or false"),
      (
        "access:\n  api-keys:\n    - {name: a, key: \"0123456789abcdef\", roles: [root]}",
        "line 3, access.api-keys[0].roles: unknown role 'root'"
      ),
      ("access:\n  token-keys:\n    - {id: x}", "line 3, access.token-keys[0]: needs one of hs256"),
      ("access: {users: []}", "access.users: unknown key"),
    ] {
      #expect {
        _ = try ArbiterConfiguration.parse(text, file: "arbiter.yaml")
      } throws: { error in (error as? ArbiterError)?.message.contains(words) == true }
    }
  }

  /// The README's "every key, with its default" block is a valid file, and says what the
  /// defaults are.
  @Test func theREADMEsConfigurationBlockIsTheDefaults() throws {
    let readme = try String(contentsOfFile: TestSupport.repoRoot + "/README.md", encoding: .utf8)
    let start = try #require(readme.range(of: "Every key, with its default:\n\n```yaml\n"))
    let end = try #require(readme.range(of: "```", range: start.upperBound..<readme.endIndex))
    let parsed = try ArbiterConfiguration.parse(String(readme[start.upperBound..<end.lowerBound]), file: "README.md")
    let defaults = ArbiterConfiguration()
    #expect(parsed.access.required == defaults.access.required && defaults.access.required)
    #expect(parsed.access.adminTokenFile == defaults.access.adminTokenFile && defaults.access.adminTokenFile != nil)
    #expect(parsed.access.siteKeyFile == defaults.access.siteKeyFile && defaults.access.siteKeyFile != nil)
    // Parsed over a configuration that differs, so that the file's values are the ones compared.
    var other = ArbiterConfiguration()
    other.access = AccessConfiguration(required: false)
    let overOther = try ArbiterConfiguration.parse(
      String(readme[start.upperBound..<end.lowerBound]), file: "README.md", over: other)
    #expect(overOther.access.required && overOther.access.adminTokenFile == "arbiter-data/admin-token")
    #expect(parsed.grpc.port == defaults.grpc.port && parsed.lean.port == defaults.lean.port)
    #expect(parsed.host == defaults.host)
    var noDelay = ArbiterConfiguration()
    noDelay.lean.connections.maxQueueDelay = nil
    noDelay.http.connections.maxQueueDelay = nil
    let delay = try ArbiterConfiguration.parse(
      String(readme[start.upperBound..<end.lowerBound]), file: "README.md", over: noDelay)
    #expect(delay.lean.connections.maxQueueDelay == .milliseconds(10) && delay.http.connections.maxQueueDelay == .milliseconds(10))
    #expect(defaults.lean.connections.maxQueueDelay == .milliseconds(10))
  }
}
