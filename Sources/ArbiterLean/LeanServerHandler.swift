import ArbiterAccess
import ArbiterCore
import ArbiterDecisioning
import ArbiterObservability
import ArbiterService
import Dispatch
import GRPCCore
import Logging
import NIOCore
import Tracing

/// One connection of the lean protocol, behind a ``LeanFrameDecoder``: requests are answered as
/// they complete (out of order when a pooled method finishes later), one flush per read burst. A
/// protocol violation gets an error frame naming it and closes this connection only.
package final class LeanServerHandler: ChannelInboundHandler, @unchecked Sendable {
  /// The frames ``LeanFrameDecoder`` reads.
  package typealias InboundIn = LeanFrame
  /// Response frames, written with ``LeanFrameEncoder``.
  package typealias OutboundOut = ByteBuffer

  let methods: LeanMethodTable
  /// Checks the hello's credential and each call's role; nil when credentials are not required.
  let authenticator: Authenticator?
  /// The door's bound on requests in flight (nil: none).
  let inFlightLimit: InFlightLimit?
  /// A span per call, when tracing is on (the lean protocol carries no trace context: each is a root).
  let tracing: RequestTracing?
  let logger: Logger
  private var pending: ByteBuffer?
  /// Requests admitted and answered into ``pending``: their places are given back when it is
  /// flushed (their answers are then on their way).
  private var admittedUnflushed = 0
  private var inFlight = Set<UInt32>()
  /// When the current read burst began (when the event loop's pass over its ready connections
  /// did, ``ReadCycleClock``): a frame's timeout and its wait at the door count from then, so a
  /// frame that waited behind others, of its own connection or another, has used that wait.
  private var burstStarted: UInt64?
  /// The clock of this connection's event loop, set when the handler is added.
  private var cycleClock: ReadCycleClock?
  /// Who the connection's hello named (nil: no hello yet, or a refused one).
  var principal: Principal?
  /// Frames read while the hello's token is verified off the event loop, handled in order once
  /// it is (reading stops meanwhile); nil when no verification is under way.
  var heldWhileVerifying: [LeanFrame]?

  /// A handler answering with `methods`, checking credentials with `authenticator` (nil: none
  /// are required), shedding requests past `inFlightLimit` (nil: none are shed).
  package init(
    methods: LeanMethodTable, authenticator: Authenticator?, inFlightLimit: InFlightLimit? = nil,
    tracing: RequestTracing? = nil, logger: Logger
  ) {
    self.methods = methods
    self.authenticator = authenticator
    self.inFlightLimit = inFlightLimit
    self.tracing = tracing
    self.logger = logger
  }

  package func handlerAdded(context: ChannelHandlerContext) {
    cycleClock = ReadCycleClock.of(context.eventLoop)
  }

  package func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    let frame = unwrapInboundIn(data)
    if heldWhileVerifying != nil {
      heldWhileVerifying!.append(frame)
      return
    }
    handle(frame, context)
  }

  func handle(_ frame: LeanFrame, _ context: ChannelHandlerContext) {
    var frame = frame
    let received = burstStarted ?? cycleClock?.passStarted() ?? DispatchTime.now().uptimeNanoseconds
    burstStarted = received
    if frame.kind == .hello {
      hello(frame, context)
      return
    }
    guard frame.kind == .request, frame.stream != 0 else {
      fail(
        context,
        "expected a request frame with a nonzero stream id, got type \(frame.kind.rawValue) on stream \(frame.stream)")
      return
    }
    guard !inFlight.contains(frame.stream) else {
      fail(context, "stream \(frame.stream) is already in flight")
      return
    }
    let header: LeanRequestHead
    do { header = try LeanRequestHead(parsing: &frame.payload) } catch {
      fail(context, error.message)
      return
    }
    let stream = frame.stream
    // Past the door's bound, or behind by more than it lets a request wait (it waited behind its
    // read burst), shed at once: answered before any other work.
    if let inFlightLimit {
      let waited = DispatchTime.now().uptimeNanoseconds &- received
      guard inFlightLimit.admit(waitedNanos: waited) else {
        let message = waited > inFlightLimit.maxQueueNanos ? inFlightLimit.delayRefusalMessage : inFlightLimit.refusalMessage
        respond(context, stream, .resourceExhausted, message, header.requestId, [])
        methods[header.method]?.metrics?.record(
          code: Status.Code.resourceExhausted.rawValue, nanoseconds: DispatchTime.now().uptimeNanoseconds &- received)
        return
      }
    }
    // An answer written here gives its place back when flushed; one made off the event loop
    // takes it over and gives it back when made (``completion``).
    if inFlightLimit != nil { admittedUnflushed += 1 }
    guard let entry = methods[header.method] else {
      respond(
        context, stream, .unimplemented, "method \(header.method) is not served over the lean protocol",
        header.requestId, [])
      return
    }
    // Refused before any work: no hello, a refused one, an expired token or a missing role.
    if let refusal = accessRefusal(needs: entry.role, for: header.method) {
      let (status, message) = Self.status(of: refusal)
      if entry.audited, let audit = methods.audit {
        audit.recordLater(
          AuditLog.Entry(
            principal: principal, door: "lean", action: String(header.method.dropFirst()),
            result: RPCError.Code(status)?.canonicalName ?? "OK", message: message))
      }
      respond(context, stream, status, message, header.requestId, [])
      entry.metrics?.record(code: status.rawValue, nanoseconds: DispatchTime.now().uptimeNanoseconds &- received)
      return
    }
    let bytes = [UInt8](frame.payload.readableBytesView)
    let deadline = header.timeoutMicros == 0 ? UInt64.max : received + UInt64(header.timeoutMicros) * 1_000
    // Expired before it could start (it waited behind its burst): refused before any work.
    guard DispatchTime.now().uptimeNanoseconds <= deadline else {
      respond(
        context, stream, .deadlineExceeded, "deadline of \(header.timeoutMicros) µs passed before the call started",
        header.requestId, [])
      entry.metrics?.record(
        code: Status.Code.deadlineExceeded.rawValue, nanoseconds: DispatchTime.now().uptimeNanoseconds &- received)
      return
    }
    let stillWanted = { DispatchTime.now().uptimeNanoseconds <= deadline }
    let span = tracing?.span(door: "lean", method: header.method, headers: TraceHeaders(traceparent: nil))
    switch entry.method {
    case .inline(let handle):
      let code = answerInline(
        context, stream, requestId: header.requestId, metrics: entry.metrics, received: received,
        { () throws(ArbiterError) in
          try handle(bytes, deadline, stillWanted)
        }
      ) { body in
        respond(context, stream, .ok, "", header.requestId, body)
      }
      if let span { RequestSpan.end(span, grpcCode: code) }
    case .decide(let handle):
      let code = answerInline(
        context, stream, requestId: header.requestId, metrics: entry.metrics, received: received,
        { () throws(ArbiterError) in
          try handle(bytes, deadline, stillWanted)
        }
      ) { decision in
        RequestSpan.record(decisionId: decision.decisionId, fallback: decision.fallback, on: span)
        respond(context, stream, header.requestId, decision)
      }
      if let span { RequestSpan.end(span, grpcCode: code) }
    case .offloaded(let handle):
      inFlight.insert(stream)
      if inFlightLimit != nil { admittedUnflushed -= 1 }
      let finish = completion(context, stream, header.requestId, deadline, entry.metrics, received, span)
      let caller = principal
      DispatchQueue.global().async {
        do { finish(.success(try handle(bytes, caller))) } catch { finish(.failure(error)) }
      }
    case .pooled(let handle):
      inFlight.insert(stream)
      if inFlightLimit != nil { admittedUnflushed -= 1 }
      let finish = completion(context, stream, header.requestId, deadline, entry.metrics, received, span)
      let caller = principal
      Task {
        do { finish(.success(try await handle(bytes, caller))) } catch { finish(.failure(error)) }
      }
    }
  }

  /// The gRPC status a failed call is answered with, and its message.
  static func status(of error: any Error) -> (code: Status.Code, message: String) {
    switch error {
    case let error as ArbiterError:
      let rpc = RPCError(error)
      return (Status.Code(rpc.code), rpc.message)
    case let error as RPCError: return (Status.Code(error.code), error.message)
    default: return (.internalError, "\(error)")
    }
  }

  /// Runs a method on the event loop and answers: with `ok` for its result, or its error as a
  /// status. A method that commits something (a decision) asks `stillWanted` before it does and
  /// fails with `deadlineExceeded` when the deadline has passed; once committed, it is answered.
  /// The call is counted in `metrics`, timed from `received`; returns its status code.
  @discardableResult
  private func answerInline<Result>(
    _ context: ChannelHandlerContext, _ stream: UInt32, requestId: String, metrics: MethodMetrics?, received: UInt64,
    _ run: () throws(ArbiterError) -> Result, ok: (Result) -> Void
  ) -> Int {
    var code = 0
    do {
      ok(try run())
    } catch {
      let (status, message) = Self.status(of: error)
      respond(context, stream, status, message, requestId, [])
      code = status.rawValue
    }
    metrics?.record(code: code, nanoseconds: DispatchTime.now().uptimeNanoseconds &- received)
    return code
  }

  /// What a call answered off the event loop does when it is done: back on the loop, answer
  /// (or say the deadline passed) and flush.
  private func completion(
    _ context: ChannelHandlerContext, _ stream: UInt32, _ requestId: String, _ deadline: UInt64,
    _ metrics: MethodMetrics?, _ received: UInt64, _ span: (any Span)?
  ) -> @Sendable (Result<[UInt8], any Error>) -> Void {
    let channel = context.channel
    let loop = context.eventLoop
    let bound = NIOLoopBound((self, context), eventLoop: loop)
    return { outcome in
      let answer: (Status.Code, String, [UInt8])
      switch outcome {
      case .success(let body):
        let late = DispatchTime.now().uptimeNanoseconds > deadline
        answer = late ? (.deadlineExceeded, "deadline exceeded", []) : (.ok, "", body)
      case .failure(let error):
        let (status, message) = Self.status(of: error)
        answer = (status, message, [])
      }
      metrics?.record(code: answer.0.rawValue, nanoseconds: DispatchTime.now().uptimeNanoseconds &- received)
      if let span { RequestSpan.end(span, grpcCode: answer.0.rawValue, message: answer.1) }
      loop.execute {
        let (handler, context) = bound.value
        handler.inFlight.remove(stream)
        handler.inFlightLimit?.release()
        guard channel.isActive else { return }
        handler.respond(context, stream, answer.0, answer.1, requestId, answer.2)
        handler.flushPending(context)
      }
    }
  }

  func respond(
    _ context: ChannelHandlerContext, _ stream: UInt32, _ status: Status.Code, _ message: String, _ requestId: String,
    _ body: [UInt8]
  ) {
    appendToPending(context) { out in
      LeanFrameEncoder.writeResponseFrame(
        stream: stream, status: status, message: message, requestId: requestId, body: body, into: &out)
    }
  }

  /// Answers with a decision encoded straight into the output buffer.
  private func respond(_ context: ChannelHandlerContext, _ stream: UInt32, _ requestId: String, _ decision: Decision) {
    DecideResponseWriter.withSizes(of: decision) { size, offers in
      appendToPending(context) { out in
        LeanFrameEncoder.writeResponseFrame(
          stream: stream, status: .ok, message: "", requestId: requestId, bodyLength: size, into: &out
        ) {
          DecideResponseWriter.write(decision, size: size, offers: offers, into: &$0)
        }
      }
    }
  }

  /// Writes a frame into the buffer flushed at the end of the read burst. The buffer is taken
  /// out of `pending` while written, so that it is not shared (which would copy it).
  private func appendToPending(_ context: ChannelHandlerContext, _ write: (inout ByteBuffer) -> Void) {
    var out = pending ?? context.channel.allocator.buffer(capacity: 32 * 1024)
    pending = nil
    write(&out)
    pending = out
    // A long read burst (a client far ahead) must not grow one huge buffer.
    if out.readableBytes >= 64 * 1024 { flushPending(context) }
  }

  /// Backpressure: while the client does not read its responses, stop reading its requests (TCP
  /// then holds the client back) instead of queueing unbounded work and output.
  package func channelWritabilityChanged(context: ChannelHandlerContext) {
    // While a hello's token is verified, reading stays off (``hello(_:_:)``).
    let reading = context.channel.isWritable && heldWhileVerifying == nil
    context.channel.setOption(ChannelOptions.autoRead, value: reading).whenFailure { _ in }
    if reading { context.read() }
    context.fireChannelWritabilityChanged()
  }

  func flushPending(_ context: ChannelHandlerContext) {
    releaseAdmitted()
    guard let out = pending, out.readableBytes > 0 else { return }
    pending = nil
    context.writeAndFlush(wrapOutboundOut(out), promise: nil)
  }

  /// Gives back the places of the requests answered into ``pending``.
  private func releaseAdmitted() {
    guard admittedUnflushed > 0 else { return }
    inFlightLimit?.release(admittedUnflushed)
    admittedUnflushed = 0
  }

  /// A connection closed with answers unflushed gives their places back.
  package func channelInactive(context: ChannelHandlerContext) {
    releaseAdmitted()
    context.fireChannelInactive()
  }

  package func channelReadComplete(context: ChannelHandlerContext) {
    burstStarted = nil
    flushPending(context)
  }

  func fail(_ context: ChannelHandlerContext, _ message: String) {
    flushPending(context)
    var out = context.channel.allocator.buffer(capacity: 64 + message.utf8.count)
    LeanFrameEncoder.writeResponseFrame(
      .error, stream: 0, status: .invalidArgument, message: message, requestId: "", body: [], into: &out)
    logger.debug(
      "lean protocol error; closing the connection",
      metadata: ["error": "\(message)", "peer": "\(context.remoteAddress.map { "\($0)" } ?? "?")"])
    context.writeAndFlush(wrapOutboundOut(out)).whenComplete { _ in context.close(promise: nil) }
  }

  package func errorCaught(context: ChannelHandlerContext, error: any Error) {
    if let error = error as? LeanProtocolError {
      fail(context, error.message)
    } else if let error = error as? ByteToMessageDecoderError {
      fail(context, "\(error)")
    } else {
      context.close(promise: nil)
    }
  }
}
