import ArbiterAPI
import ArbiterCore
import ArbiterServer
import Crypto
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Testing
import X509

/// A certificate authority made by the test: it issues certificates for `localhost` (server and
/// client use), written as PEM files.
struct TestAuthority {
  let key = P256.Signing.PrivateKey()
  let certificate: Certificate

  init(name: String) throws {
    let subject = try DistinguishedName { CommonName(name) }
    certificate = try Certificate(
      version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(key.publicKey),
      notValidBefore: Date().addingTimeInterval(-3_600), notValidAfter: Date().addingTimeInterval(86_400),
      issuer: subject, subject: subject, signatureAlgorithm: .ecdsaWithSHA256,
      extensions: try Certificate.Extensions {
        Critical(BasicConstraints.isCertificateAuthority(maxPathLength: nil))
        Critical(KeyUsage(keyCertSign: true))
      },
      issuerPrivateKey: .init(key))
  }

  /// Writes its certificate to `directory/name.pem`; returns the path.
  func write(to directory: String, name: String) throws -> String {
    let path = "\(directory)/\(name).pem"
    try certificate.serializeAsPEM().pemString.write(toFile: path, atomically: true, encoding: .utf8)
    return path
  }

  /// Issues a certificate for `localhost` and writes it and its key to `directory/name.pem` and
  /// `directory/name-key.pem`.
  func issue(_ name: String, in directory: String) throws -> (certificate: String, key: String) {
    let leafKey = P256.Signing.PrivateKey()
    let leaf = try Certificate(
      version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(leafKey.publicKey),
      notValidBefore: Date().addingTimeInterval(-3_600), notValidAfter: Date().addingTimeInterval(86_400),
      issuer: certificate.subject, subject: try DistinguishedName { CommonName(name) },
      signatureAlgorithm: .ecdsaWithSHA256,
      extensions: try Certificate.Extensions {
        Critical(BasicConstraints.notCertificateAuthority)
        Critical(KeyUsage(digitalSignature: true))
        try ExtendedKeyUsage([.serverAuth, .clientAuth])
        SubjectAlternativeNames([.dnsName("localhost")])
      },
      issuerPrivateKey: .init(key))
    let paths = (certificate: "\(directory)/\(name).pem", key: "\(directory)/\(name)-key.pem")
    try leaf.serializeAsPEM().pemString.write(toFile: paths.certificate, atomically: true, encoding: .utf8)
    try leafKey.pemRepresentation.write(toFile: paths.key, atomically: true, encoding: .utf8)
    return paths
  }
}

/// Every door over TLS from PEM files, and with client certificates required (mTLS), against a
/// CA made here: gRPC with grpc-swift's client, the lean protocol with the C client (OpenSSL),
/// HTTP with curl. Plaintext, an untrusted server and a client without (or with a foreign)
/// certificate are refused.
@Suite(.serialized) struct TLSTests {
  struct Files {
    let directory: String
    let authority: String
    let server: (certificate: String, key: String)
    let client: (certificate: String, key: String)
    let stranger: (certificate: String, key: String)
  }

  static func files() throws -> Files {
    let directory = try TestSupport.temporaryDirectory()
    let authority = try TestAuthority(name: "Arbiter test CA")
    let other = try TestAuthority(name: "Another CA")
    return Files(
      directory: directory, authority: try authority.write(to: directory, name: "ca"),
      server: try authority.issue("server", in: directory), client: try authority.issue("client", in: directory),
      stranger: try other.issue("stranger", in: directory))
  }

  static func server(_ files: Files, mutual: Bool) throws -> ArbiterServer {
    try TestSupport.makeServer {
      $0.tls = ArbiterConfiguration.TLS(
        certificateChain: files.server.certificate, privateKey: files.server.key,
        clientCertificateAuthority: mutual ? files.authority : nil)
    }
  }

  /// The three doors of `server`, started; their ports.
  static func start(
    _ server: ArbiterServer, _ grpc: GRPCServer<HTTP2ServerTransport.Posix>,
    in group: inout ThrowingTaskGroup<Void, any Error>
  ) async throws -> (grpc: Int, lean: Int, http: Int) {
    group.addTask { try await server.runLeanServer(port: 0) }
    group.addTask { try await server.httpService(port: 0).run() }
    group.addTask { try await grpc.serve() }
    let grpcPort = try #require(try await grpc.listeningAddress?.ipv4).port
    return (grpcPort, try await TestSupport.leanPort(of: server), try await TestSupport.httpPort(of: server))
  }

  /// A Decide over gRPC to localhost, trusting `files.authority`, presenting `client` if given.
  static func grpcDecide(port: Int, _ files: Files, client: (certificate: String, key: String)?) async throws -> UInt64
  {
    try await withGRPCClient(
      transport: .http2NIOPosix(
        target: .dns(host: "localhost", port: port),
        transportSecurity: .tls {
          $0.trustRoots = .certificates([.file(path: files.authority, format: .pem)])
          if let client {
            $0.certificateChain = [.file(path: client.certificate, format: .pem)]
            $0.privateKey = .file(path: client.key, format: .pem)
          }
        })
    ) { client in
      var options = CallOptions.defaults
      options.timeout = .seconds(20)
      return try await Arbiter_V1_DecisionService.Client(wrapping: client).decide(
        .with {
          $0.customerID = 100_042; $0.channel = .web
        }, options: options
      ).customerID
    }
  }

  static func curl(_ arguments: [String]) throws -> (status: Int32, output: String, error: String) {
    try CClientTests.run("/usr/bin/curl", ["--silent", "--show-error", "--max-time", "20"] + arguments)
  }

  static func cClient() throws -> String {
    let build = try CClientTests.run("/bin/bash", [TestSupport.repoRoot + "/tools/c-client/build.sh"])
    #expect(build.status == 0, "\(build.error)")
    return build.output.trimmingCharacters(in: .whitespacesAndNewlines)
  }

  @Test(.timeLimit(.minutes(5))) func everyDoorServesOverTLSAndRefusesPlaintext() async throws {
    let files = try Self.files()
    let tool = try Self.cClient()
    let server = try Self.server(files, mutual: false)
    let grpc = server.makeGRPCServer()
    try await withThrowingTaskGroup(of: Void.self) { group in
      let ports = try await Self.start(server, grpc, in: &group)

      #expect(try await Self.grpcDecide(port: ports.grpc, files, client: nil) == 100_042)
      await #expect(throws: RPCError.self) {
        try await withGRPCClient(
          transport: .http2NIOPosix(
            target: .ipv4(address: "127.0.0.1", port: ports.grpc), transportSecurity: .plaintext)
        ) { client in
          var options = CallOptions.defaults
          options.timeout = .seconds(10)
          _ = try await Arbiter_V1_DecisionService.Client(wrapping: client).decide(
            .with {
              $0.customerID = 100_042; $0.channel = .web
            }, options: options)
        }
      }

      let lean = String(ports.lean)
      let decided = try CClientTests.run(
        tool,
        [
          "--host", "localhost", "--port", lean, "--ca", files.authority, "--timeout-ms", "10000", "decide",
          "--customer", "100042",
        ])
      #expect(decided.status == 0 && decided.output.contains("for customer 100042 on web"), "\(decided.error)")
      let plain = try CClientTests.run(
        tool, ["--host", "localhost", "--port", lean, "--timeout-ms", "5000", "decide", "--customer", "100042"])
      #expect(plain.status == 14, "a plaintext lean client is not served: \(plain.output) \(plain.error)")
      // A server whose certificate the client's authority did not sign is not trusted.
      let untrusted = try CClientTests.run(
        tool, ["--host", "localhost", "--port", lean, "--ca", files.stranger.certificate, "decide", "--customer", "1"])
      #expect(
        untrusted.status == 14 && untrusted.error.contains("TLS handshake with localhost failed"), "\(untrusted.error)")

      let health = try Self.curl(["--cacert", files.authority, "https://localhost:\(ports.http)/health"])
      #expect(health.status == 0 && health.output.contains("SERVING"), "\(health.error)")
      let overPlain = try Self.curl(["http://localhost:\(ports.http)/health"])
      #expect(overPlain.status != 0 || !overPlain.output.contains("SERVING"), "plain HTTP is not served")
      grpc.beginGracefulShutdown()
      group.cancelAll()
    }
  }

  @Test(.timeLimit(.minutes(5))) func mutualTLSNeedsAClientCertificateTheAuthoritySigned() async throws {
    let files = try Self.files()
    let tool = try Self.cClient()
    let server = try Self.server(files, mutual: true)
    let grpc = server.makeGRPCServer()
    try await withThrowingTaskGroup(of: Void.self) { group in
      let ports = try await Self.start(server, grpc, in: &group)

      #expect(try await Self.grpcDecide(port: ports.grpc, files, client: files.client) == 100_042)
      await #expect(throws: RPCError.self) { _ = try await Self.grpcDecide(port: ports.grpc, files, client: nil) }
      await #expect(throws: RPCError.self) {
        _ = try await Self.grpcDecide(port: ports.grpc, files, client: files.stranger)
      }

      let lean = [
        "--host", "localhost", "--port", String(ports.lean), "--ca", files.authority, "--timeout-ms", "10000",
      ]
      let decide = ["decide", "--customer", "100042"]
      let withCertificate = try CClientTests.run(
        tool, lean + ["--cert", files.client.certificate, "--key", files.client.key] + decide)
      #expect(withCertificate.status == 0, "\(withCertificate.error)")
      let without = try CClientTests.run(tool, lean + decide)
      #expect(without.status == 14 && without.error.contains("certificate required"), "\(without.error)")
      let foreign = try CClientTests.run(
        tool, lean + ["--cert", files.stranger.certificate, "--key", files.stranger.key] + decide)
      #expect(foreign.status == 14 && foreign.error.contains("(TLS: "), "another authority's: \(foreign.error)")

      let https = ["--cacert", files.authority, "https://localhost:\(ports.http)/health"]
      let curled = try Self.curl(["--cert", files.client.certificate, "--key", files.client.key] + https)
      #expect(curled.status == 0 && curled.output.contains("SERVING"), "\(curled.error)")
      let anonymous = try Self.curl(https)
      #expect(anonymous.status != 0 || !anonymous.output.contains("SERVING"), "no client certificate")
      grpc.beginGracefulShutdown()
      group.cancelAll()
    }
  }

  @Test func badTLSSettingsAreRefusedNamingTheSettingAndFile() throws {
    let files = try Self.files()
    let missing = files.directory + "/nope.pem"
    for (settings, problem) in [
      (ArbiterConfiguration.TLS(certificateChain: missing, privateKey: files.server.key), "tls.certificate-chain"),
      (ArbiterConfiguration.TLS(certificateChain: files.server.certificate, privateKey: missing), "tls.private-key"),
      (
        ArbiterConfiguration.TLS(certificateChain: files.server.key, privateKey: files.server.key),
        "tls.certificate-chain"
      ),
      (
        ArbiterConfiguration.TLS(
          certificateChain: files.server.certificate, privateKey: files.server.key, clientCertificateAuthority: missing),
        "tls.client-ca"
      ),
    ] {
      do {
        _ = try TestSupport.makeServer { $0.tls = settings }
        Issue.record("started with bad TLS settings (\(problem))")
      } catch {
        let message = (error as? ArbiterError)?.message ?? "\(error)"
        #expect(message.hasPrefix(problem) && message.contains("'"), "\(message)")
      }
    }
    do {
      _ = try ArbiterConfiguration.parse("tls: {certificate-chain: a.pem}\n", file: "arbiter.yaml")
      Issue.record("TLS without a key was read")
    } catch {
      #expect(error.message.contains("needs both certificate-chain and private-key"), "\(error.message)")
    }
    let read = try ArbiterConfiguration.parse(
      "tls: {certificate-chain: a.pem, private-key: b.pem, client-ca: c.pem, doors: [grpc, http]}\n", file: "x.yaml")
    #expect(read.tls?.clientCertificateAuthority == "c.pem" && read.tls?.doors == [.grpc, .http])
  }
}
