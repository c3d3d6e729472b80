import ArbiterService
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1

/// Hummingbird's HTTP/1.1 child channel with ``InlineDecideHandler`` put in front of its codec, so
/// that Decide is answered on the event loop and everything else by the router, on one connection.
struct InlineDecideChannel: HTTPChannelHandler {
  typealias Value = HTTP1Channel.Value

  let http1: HTTP1Channel
  let api: HTTPAPI
  let serverName: String

  var responder: Responder { http1.responder }

  func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
    let api = self.api, serverName = self.serverName
    return http1.setup(channel: channel, logger: logger).flatMapThrowing { value in
      let operations = channel.pipeline.syncOperations
      let decoder = try operations.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)
      try operations.addHandler(InlineDecideHandler(api: api, serverName: serverName), position: .after(decoder))
      // First of all: the door's bound on connections and its idle timer.
      if let counter = api.metrics?.connections(of: "http") {
        try operations.addHandlers(
          ConnectionGuard.handlers(
            counter: counter, idleTimeout: api.configuration.connections.idleTimeout,
            refusal: Self.refusal(limit: counter.limit)),
          position: .first)
      }
      return value
    }
  }

  /// What a connection past the limit is answered before it is closed: 503, RESOURCE_EXHAUSTED
  /// as JSON, naming the limit.
  static func refusal(limit: Int) -> @Sendable (ByteBufferAllocator) -> ByteBuffer {
    { allocator in
      let error = HTTPAPIError(
        .resourceExhausted, "the HTTP door has its limit of \(limit) connections open; try again later",
        status: .serviceUnavailable)
      let body = error.body
      var out = allocator.buffer(capacity: 200 + body.count)
      out.writeString(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: \(body.count)\r\n"
          + "Retry-After: 1\r\nConnection: close\r\n\r\n")
      out.writeBytes(body)
      return out
    }
  }

  func handle(value: Value, logger: Logger) async {
    await http1.handle(value: value, logger: logger)
  }
}

extension HTTPServerBuilder {
  /// HTTP/1.1 with Decide answered on the event loop (``InlineDecideHandler``).
  static func http1(inlineDecideWith api: HTTPAPI, serverName: String) -> HTTPServerBuilder {
    HTTPServerBuilder { responder in
      InlineDecideChannel(http1: HTTP1Channel(responder: responder), api: api, serverName: serverName)
    }
  }
}
