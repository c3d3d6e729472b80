import ArbiterService
import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import ServiceLifecycle

/// Runs a gRPC server as a lifecycle service; a graceful shutdown reports NOT_SERVING and lets
/// in-flight calls finish.
struct GRPCServerService: Service {
  let server: GRPCServer<HTTP2ServerTransport.Posix>
  let health: HealthService
  let logger: Logger

  func run() async throws {
    try await withGracefulShutdownHandler {
      try await withThrowingDiscardingTaskGroup { group in
        group.addTask { try await server.serve() }
        if let address = try await server.listeningAddress {
          logger.notice("serving gRPC", metadata: ["address": "\(address)"])
        }
      }
    } onGracefulShutdown: {
      logger.info("shutting down: finishing in-flight calls")
      health.beginShutdown()
      server.beginGracefulShutdown()
    }
  }
}
