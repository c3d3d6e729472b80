import ArbiterObservability
import NIOCore

/// The first handler of every connection a door accepts: it refuses a connection past the door's
/// bound (writing `refusal`, when the door has a way to say so, then closing), closes one that
/// passes nothing either way for the idle timeout (signalled by the `IdleStateHandler` in front
/// of it, see ``handlers(counter:idleTimeout:refusal:)``), and gives the connection's place back
/// when it closes.
public final class ConnectionGuard: ChannelInboundHandler, RemovableChannelHandler {
  /// Whatever the door reads; passed on untouched.
  public typealias InboundIn = NIOAny
  /// The same.
  public typealias InboundOut = NIOAny

  let counter: ConnectionCounter
  let refusal: (@Sendable (ByteBufferAllocator) -> ByteBuffer)?
  private var admitted = false
  private var decided = false

  /// A guard counting in `counter`; `refusal` makes what a refused connection is told.
  public init(counter: ConnectionCounter, refusal: (@Sendable (ByteBufferAllocator) -> ByteBuffer)?) {
    self.counter = counter
    self.refusal = refusal
  }

  /// The handlers to put first in an accepted connection's pipeline: an idle timer (when
  /// `idleTimeout` is set) and the guard.
  public static func handlers(
    counter: ConnectionCounter, idleTimeout: Duration?, refusal: (@Sendable (ByteBufferAllocator) -> ByteBuffer)?
  ) -> [any ChannelHandler] {
    var handlers: [any ChannelHandler] = []
    if let idleTimeout {
      let (seconds, attoseconds) = idleTimeout.components
      handlers.append(IdleStateHandler(allTimeout: .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)))
    }
    handlers.append(ConnectionGuard(counter: counter, refusal: refusal))
    return handlers
  }

  /// Decides at once when the connection is already active.
  public func handlerAdded(context: ChannelHandlerContext) {
    if context.channel.isActive { decide(context) }
  }

  /// Admits or refuses the connection; only an admitted one is announced to the door.
  public func channelActive(context: ChannelHandlerContext) {
    decide(context)
    if admitted { context.fireChannelActive() }
  }

  /// Admits the connection or refuses it, once.
  private func decide(_ context: ChannelHandlerContext) {
    guard !decided else { return }
    decided = true
    admitted = counter.admit()
    guard !admitted else { return }
    if let refusal {
      context.writeAndFlush(NIOAny(refusal(context.channel.allocator))).whenComplete { _ in
        context.close(promise: nil)
      }
    } else {
      context.close(promise: nil)
    }
  }

  /// Passes an admitted connection's bytes on.
  public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    // A refused connection's bytes go nowhere.
    if admitted { context.fireChannelRead(data) }
  }

  /// Closes the connection when the idle timer fires.
  public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
    if event is IdleStateHandler.IdleStateEvent {
      context.close(promise: nil)
      return
    }
    context.fireUserInboundEventTriggered(event)
  }

  /// Gives the connection's place back.
  public func channelInactive(context: ChannelHandlerContext) {
    giveBack()
    context.fireChannelInactive()
  }

  /// Gives the connection's place back.
  public func handlerRemoved(context: ChannelHandlerContext) { giveBack() }

  private func giveBack() {
    if admitted {
      admitted = false
      counter.release()
    }
  }
}
