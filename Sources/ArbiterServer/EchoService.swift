import ArbiterAPI
import GRPCCore

/// `arbiter.v1.BenchmarkService`: the gRPC no-op baseline (the same sizes as Decide, no work).
struct EchoService: Arbiter_V1_BenchmarkService.SimpleServiceProtocol {
  let response: Arbiter_V1_DecideResponse

  func echo(request: Arbiter_V1_DecideRequest, context: ServerContext) async throws -> Arbiter_V1_DecideResponse {
    response
  }
}
