import ArbiterAPI
import ArbiterCore
import ArbiterDecisioning
import Dispatch
import GRPCCore
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import SwiftProtobuf

/// The methods served over the lean protocol: the same services and messages as gRPC. The hot
/// ones run inline on the connection's event loop (no hop to another thread), none of them
/// touching the disk; the others run on a Dispatch worker or the Swift concurrency pool.
struct LeanMethods: Sendable {
  /// Asked once a method's work is done and before anything is committed: whether its answer
  /// is still wanted (the deadline has not passed).
  typealias StillWanted = () -> Bool

  enum Method: Sendable {
    /// On the connection's event loop.
    case inline(@Sendable ([UInt8], StillWanted) throws(ArbiterError) -> [UInt8])
    /// `Decide`, on the connection's event loop: the decision is encoded straight into the
    /// connection's output (see ``DecideResponseWriter``), with no message or byte array between.
    case decide(@Sendable ([UInt8], StillWanted) throws(ArbiterError) -> Decision)
    /// Slow but synchronous (a reload, a campaign): on a Dispatch worker thread.
    case offloaded(@Sendable ([UInt8]) throws(ArbiterError) -> [UInt8])
    /// Asynchronous (waits for durability): on the Swift concurrency pool.
    case pooled(@Sendable ([UInt8]) async throws -> [UInt8])
  }

  let table: [String: Method]

  @Sendable static func decode<M: Message>(_ type: M.Type, _ bytes: [UInt8]) throws(ArbiterError) -> M {
    do { return try M(serializedBytes: bytes) } catch { throw ArbiterError(.invalidArgument, "malformed \(M.protoMessageName): \(error)") }
  }

  @Sendable static func encode(_ message: some Message) throws(ArbiterError) -> [UInt8] {
    do { return try message.serializedBytes() } catch { throw ArbiterError(.internalError, "cannot encode \(type(of: message).protoMessageName): \(error)") }
  }

  @Sendable static func context(_ service: String, _ method: String) -> ServerContext {
    ServerContext(
      descriptor: MethodDescriptor(fullyQualifiedService: service, method: method), remotePeer: "lean", localPeer: "lean",
      cancellation: ServerContext.RPCCancellationHandle())
  }

  init(server: ArbiterServer) {
    let live = server.live
    let decisions = DecisionService(live: live)
    let profiles = ProfileService(live: live)
    let admin = AdminService(live: live, logger: server.logger)
    let echo = server.echoResponse
    table = [
      "/arbiter.v1.DecisionService/Decide": .decide { bytes, stillWanted throws(ArbiterError) in
        try decisions.decision(for: try Self.decode(Arbiter_V1_DecideRequest.self, bytes), stillWanted: stillWanted)
      },
      "/arbiter.v1.DecisionService/Personalize": .inline { bytes, stillWanted throws(ArbiterError) in
        try Self.encode(
          try decisions.personalize(try Self.decode(Arbiter_V1_PersonalizeRequest.self, bytes), stillWanted: stillWanted))
      },
      // Offloaded: it waits for its lines to be written, which no event-loop thread may do.
      "/arbiter.v1.DecisionService/RecordOutcomes": .offloaded { bytes throws(ArbiterError) in
        try Self.encode(try decisions.recordOutcomes(try Self.decode(Arbiter_V1_RecordOutcomesRequest.self, bytes)))
      },
      "/arbiter.v1.DecisionService/SelectOutbound": .offloaded { bytes throws(ArbiterError) in
        try Self.encode(try decisions.selectOutbound(try Self.decode(Arbiter_V1_SelectOutboundRequest.self, bytes)))
      },
      "/arbiter.v1.ProfileService/GetProfile": .inline { bytes, _ throws(ArbiterError) in
        try Self.encode(try profiles.profile(try Self.decode(Arbiter_V1_GetProfileRequest.self, bytes)))
      },
      "/arbiter.v1.ProfileService/UpsertProfiles": .pooled { bytes in
        try Self.encode(try await profiles.upsertProfiles(request: try Self.decode(Arbiter_V1_UpsertProfilesRequest.self, bytes), context: Self.context("arbiter.v1.ProfileService", "UpsertProfiles")))
      },
      "/arbiter.v1.AdminService/GetStatus": .offloaded { bytes throws(ArbiterError) in
        _ = try Self.decode(Arbiter_V1_GetStatusRequest.self, bytes)
        return try Self.encode(admin.status())
      },
      "/arbiter.v1.AdminService/Reload": .offloaded { bytes throws(ArbiterError) in
        try Self.encode(try admin.reload(try Self.decode(Arbiter_V1_ReloadRequest.self, bytes)))
      },
      "/arbiter.v1.AdminService/SetChallenger": .offloaded { bytes throws(ArbiterError) in
        try Self.encode(try admin.setChallenger(try Self.decode(Arbiter_V1_SetChallengerRequest.self, bytes)))
      },
      // The no-op baseline: decodes the request, returns a decision made at start (same sizes, no work).
      "/arbiter.v1.BenchmarkService/Echo": .inline { bytes, _ throws(ArbiterError) in
        _ = try Self.decode(Arbiter_V1_DecideRequest.self, bytes)
        return echo
      },
    ]
  }
}

/// gRPC status codes by number, for the lean protocol's response header.
enum LeanStatus {
  static let ok = 0, invalidArgument = 3, deadlineExceeded = 4, unimplemented = 12, internalError = 13

  static func of(_ error: any Error) -> (Int, String) {
    switch error {
    case let error as ArbiterError: let rpc = RPCError(error); return (rpc.code.rawValue, rpc.message)
    case let error as RPCError: return (error.code.rawValue, error.message)
    default: return (internalError, "\(error)")
    }
  }
}

/// One connection: requests are answered as they complete (out of order when a pooled method
/// finishes later), one flush per read burst. A protocol violation gets an error frame naming
/// it and closes this connection only.
final class LeanServerHandler: ChannelInboundHandler, @unchecked Sendable {
  typealias InboundIn = LeanFrame
  typealias OutboundOut = ByteBuffer

  let methods: LeanMethods
  let logger: Logger
  private var pending: ByteBuffer?
  private var inFlight = Set<UInt32>()
  /// When the current read burst began: a frame's timeout counts from when the server read it,
  /// so a frame that waited behind others of its burst has used that wait.
  private var burstStarted: UInt64?

  init(methods: LeanMethods, logger: Logger) {
    self.methods = methods
    self.logger = logger
  }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    var frame = unwrapInboundIn(data)
    let received = burstStarted ?? DispatchTime.now().uptimeNanoseconds
    burstStarted = received
    guard frame.kind == .request, frame.stream != 0 else {
      fail(context, "expected a request frame with a nonzero stream id, got type \(frame.kind.rawValue) on stream \(frame.stream)")
      return
    }
    guard !inFlight.contains(frame.stream) else {
      fail(context, "stream \(frame.stream) is already in flight")
      return
    }
    let header: (method: String, timeoutMicros: UInt32, requestId: String)
    do { header = try LeanMessage.parseRequest(&frame.payload) } catch {
      fail(context, error.message)
      return
    }
    let bytes = [UInt8](frame.payload.readableBytesView)
    let stream = frame.stream
    let deadline = header.timeoutMicros == 0 ? UInt64.max : received + UInt64(header.timeoutMicros) * 1_000
    guard let method = methods.table[header.method] else {
      respond(context, stream, LeanStatus.unimplemented, "method \(header.method) is not served over the lean protocol", header.requestId, [])
      return
    }
    // Expired before it could start (it waited behind its burst): refused before any work.
    guard DispatchTime.now().uptimeNanoseconds <= deadline else {
      respond(
        context, stream, LeanStatus.deadlineExceeded, "deadline of \(header.timeoutMicros) µs passed before the call started",
        header.requestId, [])
      return
    }
    let stillWanted = { DispatchTime.now().uptimeNanoseconds <= deadline }
    switch method {
    case .inline(let handle):
      answerInline(context, stream, requestId: header.requestId, { () throws(ArbiterError) in try handle(bytes, stillWanted) }) { body in
        respond(context, stream, LeanStatus.ok, "", header.requestId, body)
      }
    case .decide(let handle):
      answerInline(context, stream, requestId: header.requestId, { () throws(ArbiterError) in try handle(bytes, stillWanted) }) { decision in
        respond(context, stream, header.requestId, decision)
      }
    case .offloaded(let handle):
      inFlight.insert(stream)
      let finish = completion(context, stream, header.requestId, deadline)
      DispatchQueue.global().async {
        do { finish(.success(try handle(bytes))) } catch { finish(.failure(error)) }
      }
    case .pooled(let handle):
      inFlight.insert(stream)
      let finish = completion(context, stream, header.requestId, deadline)
      Task {
        do { finish(.success(try await handle(bytes))) } catch { finish(.failure(error)) }
      }
    }
  }

  /// Runs a method on the event loop and answers: with `ok` for its result, or its error as a
  /// status. A method that commits something (a decision) asks `stillWanted` before it does and
  /// fails with `deadlineExceeded` when the deadline has passed; once committed, it is answered.
  private func answerInline<Result>(
    _ context: ChannelHandlerContext, _ stream: UInt32, requestId: String, _ run: () throws(ArbiterError) -> Result,
    ok: (Result) -> Void
  ) {
    do {
      ok(try run())
    } catch {
      let (status, message) = LeanStatus.of(error)
      respond(context, stream, status, message, requestId, [])
    }
  }

  /// What a call answered off the event loop does when it is done: back on the loop, answer
  /// (or say the deadline passed) and flush.
  private func completion(
    _ context: ChannelHandlerContext, _ stream: UInt32, _ requestId: String, _ deadline: UInt64
  ) -> @Sendable (Result<[UInt8], any Error>) -> Void {
    let channel = context.channel
    let loop = context.eventLoop
    let bound = NIOLoopBound((self, context), eventLoop: loop)
    return { outcome in
      let answer: (Int, String, [UInt8])
      switch outcome {
      case .success(let body):
        answer = DispatchTime.now().uptimeNanoseconds > deadline ? (LeanStatus.deadlineExceeded, "deadline exceeded", []) : (LeanStatus.ok, "", body)
      case .failure(let error):
        let (status, message) = LeanStatus.of(error)
        answer = (status, message, [])
      }
      loop.execute {
        let (handler, context) = bound.value
        handler.inFlight.remove(stream)
        guard channel.isActive else { return }
        handler.respond(context, stream, answer.0, answer.1, requestId, answer.2)
        handler.flushPending(context)
      }
    }
  }

  private func respond(_ context: ChannelHandlerContext, _ stream: UInt32, _ status: Int, _ message: String, _ requestId: String, _ body: [UInt8]) {
    appendToPending(context) { out in
      LeanMessage.writeResponseFrame(stream: stream, status: status, message: message, requestId: requestId, body: body, into: &out)
    }
  }

  /// Answers with a decision encoded straight into the output buffer.
  private func respond(_ context: ChannelHandlerContext, _ stream: UInt32, _ requestId: String, _ decision: Decision) {
    DecideResponseWriter.withSizes(of: decision) { size, offers in
      appendToPending(context) { out in
        LeanMessage.writeResponseFrame(stream: stream, status: LeanStatus.ok, message: "", requestId: requestId, bodyLength: size, into: &out) {
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
  func channelWritabilityChanged(context: ChannelHandlerContext) {
    context.channel.setOption(ChannelOptions.autoRead, value: context.channel.isWritable).whenFailure { _ in }
    if context.channel.isWritable { context.read() }
    context.fireChannelWritabilityChanged()
  }

  private func flushPending(_ context: ChannelHandlerContext) {
    guard let out = pending, out.readableBytes > 0 else { return }
    pending = nil
    context.writeAndFlush(wrapOutboundOut(out), promise: nil)
  }

  func channelReadComplete(context: ChannelHandlerContext) {
    burstStarted = nil
    flushPending(context)
  }

  private func fail(_ context: ChannelHandlerContext, _ message: String) {
    flushPending(context)
    var out = context.channel.allocator.buffer(capacity: 64 + message.utf8.count)
    LeanMessage.writeResponseFrame(.error, stream: 0, status: LeanStatus.invalidArgument, message: message, requestId: "", body: [], into: &out)
    logger.debug("lean protocol error; closing the connection", metadata: ["error": "\(message)", "peer": "\(context.remoteAddress.map { "\($0)" } ?? "?")"])
    context.writeAndFlush(wrapOutboundOut(out)).whenComplete { _ in context.close(promise: nil) }
  }

  func errorCaught(context: ChannelHandlerContext, error: any Error) {
    if let error = error as? LeanProtocolError {
      fail(context, error.message)
    } else if let error = error as? ByteToMessageDecoderError {
      fail(context, "\(error)")
    } else {
      context.close(promise: nil)
    }
  }
}

/// Serves the lean protocol on its own port, in the server's service group.
struct LeanServerService: Service {
  let host: String
  let port: Int
  let methods: LeanMethods
  let maxFrameSize: Int
  let logger: Logger
  let onBound: @Sendable (Int) -> Void

  func run() async throws {
    let group = MultiThreadedEventLoopGroup.singleton
    let methods = self.methods, logger = self.logger, maxFrameSize = self.maxFrameSize
    let channel = try await ServerBootstrap(group: group)
      .serverChannelOption(.backlog, value: 256)
      .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
      .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
      .childChannelInitializer { channel in
        channel.eventLoop.makeCompletedFuture {
          try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(LeanFrameDecoder(maxFrameSize: maxFrameSize, expectsPreamble: true)))
          try channel.pipeline.syncOperations.addHandler(LeanServerHandler(methods: methods, logger: logger))
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
