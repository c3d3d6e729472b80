import ArbiterAccess
import ArbiterObservability
import ArbiterService
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import ServiceLifecycle

/// Serves the lean protocol on its own port, in the server's service group: a
/// ``LeanFrameDecoder`` and a ``LeanServerHandler`` on every connection.
package struct LeanServerService: Service {
  let host: String
  let port: Int
  let methods: LeanMethodTable
  let authenticator: Authenticator?
  let connections: ConnectionCounter?
  let inFlightLimit: InFlightLimit?
  let idleTimeout: Duration?
  let maxFrameSize: Int
  /// TLS for every connection (nil: plaintext), before the preamble.
  let tls: NIOSSLContext?
  /// A span per call, when tracing is on.
  let tracing: RequestTracing?
  let logger: Logger
  let onBound: @Sendable (Int) -> Void

  /// A service binding `host:port` (0 picks a port, told to `onBound`) and serving `methods`,
  /// each connection's credential checked by `authenticator` (nil: none required), its
  /// connections bounded by `connections` and closed when silent for `idleTimeout`, its
  /// requests in flight by `inFlightLimit`, over `tls` when given.
  package init(
    host: String, port: Int, methods: LeanMethodTable, authenticator: Authenticator?,
    connections: ConnectionCounter? = nil, inFlightLimit: InFlightLimit? = nil, idleTimeout: Duration? = nil,
    maxFrameSize: Int, tls: NIOSSLContext? = nil, tracing: RequestTracing? = nil, logger: Logger,
    onBound: @escaping @Sendable (Int) -> Void
  ) {
    self.tls = tls
    self.tracing = tracing
    self.host = host
    self.port = port
    self.methods = methods
    self.authenticator = authenticator
    self.connections = connections
    self.inFlightLimit = inFlightLimit
    self.idleTimeout = idleTimeout
    self.maxFrameSize = maxFrameSize
    self.logger = logger
    self.onBound = onBound
  }

  /// What a connection past the limit is told before it is closed: an error frame,
  /// RESOURCE_EXHAUSTED, naming the limit.
  static func refusal(limit: Int) -> @Sendable (ByteBufferAllocator) -> ByteBuffer {
    { allocator in
      let message = "the lean door has its limit of \(limit) connections open; try again later"
      var out = allocator.buffer(capacity: 64 + message.utf8.count)
      LeanFrameEncoder.writeResponseFrame(
        .error, stream: 0, status: .resourceExhausted, message: message, requestId: "", body: [], into: &out)
      return out
    }
  }

  /// Binds the port and serves until the task is cancelled or the group shuts down.
  package func run() async throws {
    let group = MultiThreadedEventLoopGroup.singleton
    let connections = self.connections, idleTimeout = self.idleTimeout, inFlightLimit = self.inFlightLimit
    let methods = self.methods, authenticator = self.authenticator, logger = self.logger,
      maxFrameSize = self.maxFrameSize, tls = self.tls, tracing = self.tracing
    let channel = try await ServerBootstrap(group: group)
      .serverChannelOption(.backlog, value: 256)
      .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
      .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
      .childChannelInitializer { channel in
        channel.eventLoop.makeCompletedFuture {
          if let connections {
            try channel.pipeline.syncOperations.addHandlers(
              ConnectionGuard.handlers(
                counter: connections, idleTimeout: idleTimeout, refusal: Self.refusal(limit: connections.limit)))
          }
          if let tls { try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls)) }
          let decoder = LeanFrameDecoder(maxFrameSize: maxFrameSize, expectsPreamble: true)
          try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(decoder))
          try channel.pipeline.syncOperations.addHandler(
            LeanServerHandler(
              methods: methods, authenticator: authenticator, inFlightLimit: inFlightLimit, tracing: tracing,
              logger: logger))
        }
      }
      .bind(host: host, port: port).get()
    let bound = channel.localAddress?.port ?? port
    onBound(bound)
    logger.info("serving the lean protocol", metadata: ["address": "\(host):\(bound)"])
    try await withGracefulShutdownHandler {
      try await withTaskCancellationHandler {
        try await channel.closeFuture.get()
      } onCancel: {
        channel.close(promise: nil)
      }
    } onGracefulShutdown: {
      channel.close(promise: nil)
    }
  }
}
