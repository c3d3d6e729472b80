import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOCore
import NIOSSL
import ServiceLifecycle

/// Serves the HTTP/JSON door (Hummingbird, HTTP/1.1 with keep-alive) on its own port, in the
/// server's service group; it stops taking connections on graceful shutdown and lets requests in
/// flight finish (agents' event streams are ended).
public struct HTTPServerService: Service {
  let api: HTTPAPI
  let host: String
  let port: Int
  let webRoot: String?
  /// TLS for every connection (nil: plaintext).
  let tls: TLSConfiguration?
  let logger: Logger
  let onBound: @Sendable (Int) -> Void

  /// The pages built in (the demo site, the snippet, the console, the dashboard, the OpenAPI
  /// document), or nil when the resources are missing.
  public static var builtInWebRoot: String? { Bundle.module.resourcePath.map { $0 + "/Web" } }

  /// A door binding `host:port` (0 picks a port, told to `onBound`), serving `api` and the pages
  /// of `webRoot` (nil: the built-in ones), over `tls` when given.
  public init(
    api: HTTPAPI, host: String, port: Int, webRoot: String?, tls: TLSConfiguration? = nil, logger: Logger,
    onBound: @escaping @Sendable (Int) -> Void = { _ in }
  ) {
    self.api = api
    self.host = host
    self.port = port
    self.webRoot = webRoot ?? Self.builtInWebRoot
    self.tls = tls
    self.logger = logger
    self.onBound = onBound
  }

  /// What the door's responses name in `Server`.
  static let serverName = "arbiter"

  /// The Hummingbird application; throws when the TLS configuration cannot serve.
  public func application() throws -> some ApplicationProtocol {
    let onBound = self.onBound
    let logger = self.logger
    let plain = HTTPServerBuilder.http1(inlineDecideWith: api, serverName: Self.serverName)
    return Application(
      router: api.router(webRoot: webRoot),
      server: try tls.map { try .tls(plain, tlsConfiguration: $0) } ?? plain,
      configuration: .init(address: .hostname(host, port: port), serverName: Self.serverName, backlog: 256),
      onServerRunning: { channel in
        let bound = channel.localAddress?.port ?? 0
        logger.info("HTTP door listening", metadata: ["port": "\(bound)"])
        onBound(bound)
      },
      logger: logger)
  }

  /// Serves until the group shuts down.
  public func run() async throws {
    try await application().run()
  }
}
