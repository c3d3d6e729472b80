import ArbiterCore
import Foundation
import GRPCNIOTransportHTTP2
import NIOSSL

/// The TLS the doors serve with, read once at start from the configuration's PEM files (a file
/// that cannot be read, or holds no certificate or key, stops the start with a message naming
/// the setting and the file): for gRPC as grpc-swift's transport security, for the lean protocol
/// and HTTP as NIOSSL configurations, all from the same bytes.
struct ServerTLS: Sendable {
  let settings: ArbiterConfiguration.TLS
  /// The files' PEM bytes, as read once.
  let chainPEM: [UInt8], keyPEM: [UInt8], authorityPEM: [UInt8]?
  let certificates: [NIOSSLCertificate]
  let privateKey: NIOSSLPrivateKey
  let clientAuthority: [NIOSSLCertificate]?

  /// Reads `settings`' files.
  init(_ settings: ArbiterConfiguration.TLS) throws(ArbiterError) {
    self.settings = settings
    chainPEM = try Self.read(settings.certificateChain, key: "tls.certificate-chain")
    keyPEM = try Self.read(settings.privateKey, key: "tls.private-key")
    authorityPEM = try settings.clientCertificateAuthority.map { path throws(ArbiterError) in
      try Self.read(path, key: "tls.client-ca")
    }
    certificates = try Self.certificates(chainPEM, settings.certificateChain, key: "tls.certificate-chain")
    do {
      privateKey = try NIOSSLPrivateKey(bytes: keyPEM, format: .pem)
    } catch {
      throw ArbiterError(
        .invalidArgument, "tls.private-key: cannot read a PEM private key from '\(settings.privateKey)': \(error)")
    }
    clientAuthority = try authorityPEM.map { bytes throws(ArbiterError) in
      try Self.certificates(bytes, settings.clientCertificateAuthority ?? "", key: "tls.client-ca")
    }
  }

  private static func read(_ path: String, key: String) throws(ArbiterError) -> [UInt8] {
    guard let data = FileManager.default.contents(atPath: path) else {
      throw ArbiterError(.invalidArgument, "\(key): cannot read '\(path)'")
    }
    return [UInt8](data)
  }

  private static func certificates(
    _ pem: [UInt8], _ path: String, key: String
  ) throws(ArbiterError)
    -> [NIOSSLCertificate]
  {
    let certificates: [NIOSSLCertificate]
    do { certificates = try NIOSSLCertificate.fromPEMBytes(pem) } catch {
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

  /// The gRPC door's transport security, from the same bytes.
  var grpcSecurity: HTTP2ServerTransport.Posix.TransportSecurity {
    let authority = authorityPEM
    return .tls(certificateChain: [.bytes(chainPEM, format: .pem)], privateKey: .bytes(keyPEM, format: .pem)) { tls in
      if let authority {
        tls.clientCertificateVerification = .noHostnameVerification
        tls.trustRoots = .certificates([.bytes(authority, format: .pem)])
      }
    }
  }
}
