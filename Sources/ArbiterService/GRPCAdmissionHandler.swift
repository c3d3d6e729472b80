import ArbiterObservability
import NIOCore
import NIOHPACK
import NIOHTTP2

/// The gRPC door's bound on calls in flight, at the door: a call takes a place when its stream
/// opens on the event loop and gives it back when the stream closes, so that calls waiting for a
/// thread count too (grpc-swift runs each call as a task; under overload they would queue there
/// unseen). Past the bound the stream is answered at once, on the event loop, with trailers
/// saying RESOURCE_EXHAUSTED and naming the limit, and grpc-swift never sees it. The long-lived
/// streams (events, health watches, reflection) are not counted: they would hold their places
/// for hours.
public final class GRPCAdmissionHandler: ChannelInboundHandler, RemovableChannelHandler {
  /// A stream's frames, as the client sends them.
  public typealias InboundIn = HTTP2Frame.FramePayload
  /// The same frames, passed on to grpc-swift's stream handler.
  public typealias InboundOut = HTTP2Frame.FramePayload
  /// The refusal's trailers.
  public typealias OutboundOut = HTTP2Frame.FramePayload

  let limit: InFlightLimit
  private var state = State.opening

  /// The methods whose streams are not counted (by `:path`): those a client keeps open.
  public static let uncounted: Set<String> = [
    "/arbiter.v1.ProfileService/IngestEvents", "/grpc.health.v1.Health/Watch",
    "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
    "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
  ]

  private enum State { case opening, admitted, uncounted, refused, released }

  /// A handler admitting streams under `limit`.
  public init(limit: InFlightLimit) { self.limit = limit }

  /// Admits the stream at its first frame (its headers), or refuses it; drops a refused
  /// stream's frames.
  public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    switch state {
    case .admitted, .uncounted, .released: context.fireChannelRead(data)
    case .refused: return
    case .opening:
      if case .headers(let headers) = unwrapInboundIn(data),
        let path = headers.headers.first(name: ":path"), Self.uncounted.contains(path)
      {
        state = .uncounted
        context.fireChannelRead(data)
      } else if limit.admit() {
        state = .admitted
        context.fireChannelRead(data)
      } else {
        state = .refused
        // Not closed here: the client ends its side (its request's end, dropped below) and the
        // stream closes as any finished call does, instead of being reset mid-request.
        context.writeAndFlush(
          wrapOutboundOut(GRPCMessageLimitHandler.resourceExhausted(limit.refusalMessage)), promise: nil)
      }
    }
  }

  /// The stream closed: its place is given back.
  public func channelInactive(context: ChannelHandlerContext) {
    release()
    context.fireChannelInactive()
  }

  /// Gives back the place also when the handler goes without the stream closing.
  public func handlerRemoved(context: ChannelHandlerContext) { release() }

  private func release() {
    if state == .admitted { limit.release() }
    if state != .refused { state = .released }
  }
}
