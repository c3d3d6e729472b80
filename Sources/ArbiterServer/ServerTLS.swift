import ArbiterCore
import GRPCNIOTransportHTTP2
import NIOSSL

/// The TLS the doors serve with, read once at start from the configuration's PEM files (a file
/// that cannot be read, or holds no certificate or key, stops the start with a message naming
/// the setting and the file): for gRPC as grpc-swift's transport security, for the lean protocol
/// and HTTP as one NIOSSL context each (they share the certificate, the key and the client CA).
struct ServerTLS: Sendable {
  let settings: ArbiterConfiguration.TLS
  let certificates: [NIOSSLCertificate]
  let privateKey: NIOSSLPrivateKey
  let clientAuthority: [NIOSSLCertificate]?

  /// Reads `settings`' files.
  init(_ settings: ArbiterConfiguration.TLS) throws(ArbiterError) {
    self.settings = settings
    certificates = try Self.certificates(settings.certificateChain, key: "tls.certificate-chain")
    do {
      privateKey = try NIOSSLPrivateKey(file: settings.privateKey, format: .pem)
    } catch {
      throw ArbiterError(
        .invalidArgument, "tls.private-key: cannot read a PEM private key from '\(settings.privateKey)': \(error)")
    }
    clientAuthority = try settings.clientCertificateAuthority.map { path throws(ArbiterError) in
      try Self.certificates(path, key: "tls.client-ca")
    }
  }

  private static func certificates(_ path: String, key: String) throws(ArbiterError) -> [NIOSSLCertificate] {
    let certificates: [NIOSSLCertificate]
    do { certificates = try NIOSSLCertificate.fromPEMFile(path) } catch {
      throw ArbiterError(.invalidArgument, "\(key): cannot read PEM certificates from '\(path)': \(error)")
    }
    guard !certificates.isEmpty else {
      throw ArbiterError(.invalidArgument, "\(key): '\(path)' holds no PEM certificate")
    }
    return certificates
  }

  /// Whether `door` is served over TLS.
  func covers(_ door: ArbiterConfiguration.TLS.Door) -> Bool { settings.doors.contains(door) }

  /// NIOSSL's server configuration: TLS 1.2 or later, and with a client CA, a certificate it
  /// signed required of every client. `protocols` are offered by ALPN.
  func configuration(protocols: [String]) -> TLSConfiguration {
    var configuration = TLSConfiguration.makeServerConfiguration(
      certificateChain: certificates.map { .certificate($0) }, privateKey: .privateKey(privateKey))
    configuration.minimumTLSVersion = .tlsv12
    configuration.applicationProtocols = protocols
    if let clientAuthority {
      configuration.certificateVerification = .noHostnameVerification
      configuration.trustRoots = .certificates(clientAuthority)
    }
    return configuration
  }

  /// A context for the lean protocol's connections.
  func leanContext() throws(ArbiterError) -> NIOSSLContext {
    do { return try NIOSSLContext(configuration: configuration(protocols: [])) } catch {
      throw ArbiterError(.invalidArgument, "tls: the certificate and key cannot serve TLS: \(error)")
    }
  }

  /// The gRPC door's transport security (the same files, read again by grpc-swift).
  var grpcSecurity: HTTP2ServerTransport.Posix.TransportSecurity {
    let settings = self.settings
    return .tls(
      certificateChain: [.file(path: settings.certificateChain, format: .pem)],
      privateKey: .file(path: settings.privateKey, format: .pem)
    ) { tls in
      if let authority = settings.clientCertificateAuthority {
        tls.clientCertificateVerification = .noHostnameVerification
        tls.trustRoots = .certificates([.file(path: authority, format: .pem)])
      }
    }
  }
}
