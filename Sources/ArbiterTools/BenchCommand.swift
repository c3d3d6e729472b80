import ArbiterAPI
import ArbiterCore
import ArbiterLean
import ArbiterService
import ArgumentParser
import Dispatch
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Histogram
import NIOCore
import NIOPosix
import Synchronization

/// Load generator for both transports: closed loop (N requests in flight) or open loop (a fixed
/// arrival rate, latency measured from each request's intended send time, so a stalled server
/// cannot hide its queueing), customers drawn across the whole store, HDR latency histograms,
/// and the server's CPU from /proc.
struct Bench: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract:
      "Load a running server over the lean protocol or gRPC and report throughput, latency percentiles and server CPU.")

  @Option(help: "lean or grpc.") var transport = "lean"
  @Option(help: "decide, or noop (the transport's baseline: same sizes, no decision work).") var method = "decide"
  @Option(help: "closed (concurrency in flight) or open (fixed rate).") var mode = "closed"
  @Option(help: "Server host.") var host = "127.0.0.1"
  @Option(help: "Server port (default 50052 lean, 50051 gRPC).") var port: Int?
  @Option(help: "Connections.") var connections = 4
  @Option(help: "Requests in flight in total (closed loop).") var concurrency = 64
  @Option(help: "Requests per second (open loop).") var rate = 10_000.0
  @Option(help: "Seconds measured.") var duration = 10.0
  @Option(help: "Seconds of warm-up before measuring.") var warmup = 2.0
  @Option(help: "First customer id.") var firstCustomer: UInt64 = 100_000
  @Option(help: "Customers to draw from (uniformly).") var customers: UInt64 = 1_000_000
  @Option(help: "Channel of the decisions.") var channel = "web"
  @Option(help: "Offers per decision.") var offers: UInt32 = 5
  @Option(help: "The server's process id, to report its CPU.") var serverPid: Int32?
  @Option(help: "Label printed with the result.") var label = ""
  @OptionGroup var credentials: CredentialOptions

  func validate() throws {
    guard ["lean", "grpc"].contains(transport) else { throw ValidationError("--transport must be lean or grpc") }
    guard ["decide", "noop"].contains(method) else { throw ValidationError("--method must be decide or noop") }
    guard ["closed", "open"].contains(mode) else { throw ValidationError("--mode must be closed or open") }
    guard connections >= 1, concurrency >= connections, rate > 0, duration > 0, warmup >= 0 else {
      throw ValidationError("need connections >= 1, concurrency >= connections, rate > 0, duration > 0")
    }
  }

  func run() async throws {
    let wireChannel = try parseChannel(channel)
    // Every request draws its customer uniformly from the whole store (so that no customer is
    // decided often enough for the contact policy to make decisions cheaper).
    let draw = CustomerDraw(
      first: firstCustomer, count: customers, channel: UInt64(wireChannel.rawValue), offers: UInt64(offers))
    let cpuBefore = serverPid.flatMap(Self.cpuTicks)
    let result: BenchResult
    let plan = BenchPlan(
      mode: mode == "open" ? .open(rate: rate) : .closed(concurrency: concurrency), connections: connections,
      warmup: warmup, duration: duration)
    // The encoding is checked against swift-protobuf's once.
    var check = SeededGenerator(seed: 1)
    let sample = draw.request(&check)
    var again = SeededGenerator(seed: 1)
    guard try Arbiter_V1_DecideRequest(serializedBytes: draw.encoded(&again)) == sample else {
      throw ValidationError("request encoding mismatch")
    }
    if transport == "lean" {
      let path = method == "noop" ? "/arbiter.v1.BenchmarkService/Echo" : "/arbiter.v1.DecisionService/Decide"
      result = try await LeanLoad.run(
        host: host, port: port ?? 50052, method: path, draw: draw, plan: plan, credential: try credentials.credential())
    } else {
      result = try await GRPCLoad.run(
        host: host, port: port ?? 50051, draw: draw, noop: method == "noop", plan: plan,
        interceptors: try credentials.interceptors())
    }
    let cpuAfter = serverPid.flatMap(Self.cpuTicks)
    let h = result.histogram
    func ms(_ p: Double) -> String { String(format: "%.3f", Double(h.valueAtPercentile(p)) / 1_000_000) }
    var line = "\(label.isEmpty ? "" : label + ": ")\(transport) \(method) \(mode)"
    line += mode == "open" ? " rate \(Int(rate))/s" : " concurrency \(concurrency)"
    line += " over \(connections) connections: \(String(format: "%.0f", Double(result.completed) / duration)) req/s"
    let worst = String(format: "%.3f", Double(h.max) / 1_000_000)
    line += ", p50 \(ms(50)) ms, p90 \(ms(90)) ms, p99 \(ms(99)) ms, p99.9 \(ms(99.9)) ms, max \(worst) ms"
    line += ", errors \(result.errors)"
    if let before = cpuBefore, let after = cpuAfter {
      let seconds = Double(after - before) / Double(sysconf(Int32(_SC_CLK_TCK)))
      line += String(
        format: ", server CPU %.0f%% (%.1f µs per request)", 100 * seconds / result.elapsed,
        1e6 * seconds / Double(max(1, result.completedTotal)))
    }
    print(line)
    if let error = result.firstError { print("  first error: \(error)") }
  }

  /// utime + stime of a process, in clock ticks.
  static func cpuTicks(_ pid: Int32) -> UInt64? {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
      let close = text.lastIndex(of: ")")
    else { return nil }
    let fields = text[text.index(after: close)...].split(separator: " ")
    guard fields.count > 13, let user = UInt64(fields[11]), let system = UInt64(fields[12]) else { return nil }
    return user + system
  }
}

/// What to run: closed or open loop, over how many connections, for how long.
struct BenchPlan: Sendable {
  enum Mode: Sendable {
    case closed(concurrency: Int)
    case open(rate: Double)
  }
  var mode: Mode
  var connections: Int
  var warmup: Double
  var duration: Double

  /// Requests to keep in flight per connection (closed loop).
  func inFlight(connection: Int) -> Int {
    guard case .closed(let total) = mode else { return 0 }
    return total / connections + (connection < total % connections ? 1 : 0)
  }
}

/// Latencies (ns, from intended send time) of the measured window, and counts.
struct BenchResult: Sendable {
  var histogram = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
  var completed = 0
  /// Including warm-up (for CPU per request over the whole run).
  var completedTotal = 0
  var errors = 0
  var firstError: String?
  var elapsed = 0.0

  mutating func merge(_ other: BenchResult) {
    histogram.add(other.histogram)
    completed += other.completed
    completedTotal += other.completedTotal
    errors += other.errors
    if firstError == nil { firstError = other.firstError }
  }
}

/// Lean-protocol load: one NIO channel per connection, pipelined; in the closed loop each
/// response sends the next request, in the open loop a timer at each request's intended time
/// sends it (and any others that are due).
enum LeanLoad {
  /// With `credential`, each connection's hello carries it (before its first request).
  static func run(
    host: String, port: Int, method: String, draw: CustomerDraw, plan: BenchPlan, credential: String?
  ) async throws -> BenchResult {
    let group = MultiThreadedEventLoopGroup.singleton
    let start = DispatchTime.now().uptimeNanoseconds + 200_000_000
    let measureFrom = start + UInt64(plan.warmup * 1e9)
    let end = measureFrom + UInt64(plan.duration * 1e9)
    var handlers: [LeanLoadHandler] = []
    var channels: [any NIOCore.Channel] = []
    for c in 0..<plan.connections {
      let handler = LeanLoadHandler(
        method: method, draw: draw, seed: UInt64(c + 1) &* 0x9E37_79B9, plan: plan, connection: c, start: start,
        measureFrom: measureFrom, end: end, credential: credential)
      let channel = try await ClientBootstrap(group: group)
        .channelOption(.socketOption(.tcp_nodelay), value: 1)
        .channelInitializer { channel in
          channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(
              ByteToMessageHandler(LeanFrameDecoder(maxFrameSize: 64 * 1024 * 1024, expectsPreamble: false)))
            try channel.pipeline.syncOperations.addHandler(handler)
          }
        }
        .connect(host: host, port: port).get()
      handlers.append(handler)
      channels.append(channel)
    }
    for (handler, channel) in zip(handlers, channels) {
      channel.eventLoop.execute { handler.begin(channel) }
    }
    let wait = Double(end - DispatchTime.now().uptimeNanoseconds) / 1e9 + 0.5
    try await Task.sleep(for: .seconds(wait))
    var result = BenchResult()
    for (handler, channel) in zip(handlers, channels) {
      let part = try await channel.eventLoop.submit { handler.result }.get()
      result.merge(part)
      try? await channel.close()
    }
    result.elapsed = Double(end - start) / 1e9
    return result
  }
}

final class LeanLoadHandler: ChannelInboundHandler, @unchecked Sendable {
  typealias InboundIn = LeanFrame
  typealias OutboundOut = ByteBuffer

  let method: [UInt8]
  let draw: CustomerDraw
  var random: SeededGenerator
  let plan: BenchPlan
  let connection: Int
  let start: UInt64, measureFrom: UInt64, end: UInt64
  var stream: UInt32 = 0
  /// Intended send time per stream id.
  var sent: [UInt32: UInt64] = [:]
  var result = BenchResult()
  var channel: (any NIOCore.Channel)?
  var scheduled = 0
  /// Sent in the connection's hello, if any.
  let credential: String?

  init(
    method: String, draw: CustomerDraw, seed: UInt64, plan: BenchPlan, connection: Int, start: UInt64,
    measureFrom: UInt64, end: UInt64, credential: String? = nil
  ) {
    self.credential = credential
    self.method = Array(method.utf8)
    self.draw = draw
    self.random = SeededGenerator(seed: seed)
    self.plan = plan
    self.connection = connection
    self.start = start
    self.measureFrom = measureFrom
    self.end = end
  }

  func begin(_ channel: any NIOCore.Channel) {
    self.channel = channel
    var preamble = channel.allocator.buffer(capacity: 4)
    preamble.writeBytes(LeanFrame.preamble)
    if let credential {
      // The hello (docs/lean-protocol.md): its answer, on stream 0, is checked in channelRead.
      LeanFrameEncoder.writeHeader(.hello, stream: 0, payloadLength: credential.utf8.count, into: &preamble)
      preamble.writeString(credential)
    }
    channel.write(preamble, promise: nil)
    switch plan.mode {
    case .closed:
      for _ in 0..<plan.inFlight(connection: connection) {
        send(at: DispatchTime.now().uptimeNanoseconds, flush: false)
      }
      channel.flush()
    case .open(let rate):
      let interval = 1e9 * Double(plan.connections) / rate
      // Stagger connections so their ticks interleave.
      let first = Double(start) + interval * Double(connection) / Double(plan.connections)
      func tick() {
        let now = DispatchTime.now().uptimeNanoseconds
        var sentAny = false
        while true {
          let intended = UInt64(first + interval * Double(scheduled))
          guard intended <= now, intended < end else { break }
          scheduled += 1
          send(at: intended, flush: false)
          sentAny = true
        }
        if sentAny { channel.flush() }
        // Wake at the next request's intended time (not on a coarse tick, which would add its
        // own delay to every measured latency).
        let nextIntended = UInt64(first + interval * Double(scheduled))
        if nextIntended < end { channel.eventLoop.scheduleTask(deadline: .uptimeNanoseconds(nextIntended)) { tick() } }
      }
      tick()
    }
  }

  func send(at intended: UInt64, flush: Bool) {
    guard let channel else { return }
    stream &+= 1
    if stream == 0 { stream = 1 }
    sent[stream] = intended
    let message = draw.encoded(&random)
    var out = channel.allocator.buffer(capacity: 12 + 2 + method.count + 5 + message.count)
    LeanFrameEncoder.writeRequestFrame(
      stream: stream, method: method, timeoutMicros: 0, requestId: [UInt8](), message: message, into: &out)
    if flush { channel.writeAndFlush(out, promise: nil) } else { channel.write(out, promise: nil) }
  }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    var frame = unwrapInboundIn(data)
    let now = DispatchTime.now().uptimeNanoseconds
    if frame.kind == .response, frame.stream == 0 {
      // The hello's answer: a refusal is an error (the requests behind it are refused too).
      if let header = try? LeanResponseHead(parsing: &frame.payload), header.status != 0 {
        result.errors += 1
        if result.firstError == nil { result.firstError = "hello refused: status \(header.status): \(header.message)" }
      }
      return
    }
    guard frame.kind == .response, let intended = sent.removeValue(forKey: frame.stream) else {
      result.errors += 1
      if result.firstError == nil { result.firstError = "unexpected frame type \(frame.kind) stream \(frame.stream)" }
      return
    }
    result.completedTotal += 1
    if let header = try? LeanResponseHead(parsing: &frame.payload), header.status != 0 {
      result.errors += 1
      if result.firstError == nil { result.firstError = "status \(header.status): \(header.message)" }
    } else if intended >= measureFrom && intended < end {
      _ = result.histogram.record(now - intended)
      result.completed += 1
    }
    if case .closed = plan.mode, now < end { send(at: now, flush: false) }
  }

  func channelReadComplete(context: ChannelHandlerContext) { context.flush() }

  func errorCaught(context: ChannelHandlerContext, error: any Error) {
    result.errors += 1
    if result.firstError == nil { result.firstError = "\(error)" }
    context.close(promise: nil)
  }
}

/// gRPC load through grpc-swift-2 clients, one per connection.
enum GRPCLoad {
  static func run(
    host: String, port: Int, draw: CustomerDraw, noop: Bool, plan: BenchPlan, interceptors: [any ClientInterceptor]
  ) async throws -> BenchResult {
    let start = DispatchTime.now().uptimeNanoseconds + 200_000_000
    let measureFrom = start + UInt64(plan.warmup * 1e9)
    let end = measureFrom + UInt64(plan.duration * 1e9)
    let shared = ResultBox()
    try await withThrowingTaskGroup(of: Void.self) { group in
      var clients: [GRPCClient<HTTP2ClientTransport.Posix>] = []
      for _ in 0..<plan.connections {
        let client = GRPCClient(
          transport: try .http2NIOPosix(target: .ipv4(address: host, port: port), transportSecurity: .plaintext),
          interceptors: interceptors)
        clients.append(client)
        group.addTask { try await client.runConnections() }
      }
      let call: @Sendable (GRPCClient<HTTP2ClientTransport.Posix>, Arbiter_V1_DecideRequest) async throws -> Void = {
        client, request in
        if noop {
          _ = try await Arbiter_V1_BenchmarkService.Client(wrapping: client).echo(request)
        } else {
          _ = try await Arbiter_V1_DecisionService.Client(wrapping: client).decide(request)
        }
      }
      let record: @Sendable (UInt64, (any Error)?) -> Void = { intended, error in
        let now = DispatchTime.now().uptimeNanoseconds
        shared.value.withLock { result in
          result.completedTotal += 1
          if let error {
            result.errors += 1
            if result.firstError == nil { result.firstError = "\(error)" }
          } else if intended >= measureFrom && intended < end {
            _ = result.histogram.record(now - intended)
            result.completed += 1
          }
        }
      }
      while DispatchTime.now().uptimeNanoseconds < start { try await Task.sleep(for: .milliseconds(1)) }
      switch plan.mode {
      case .closed(let concurrency):
        try await withThrowingTaskGroup(of: Void.self) { workers in
          for w in 0..<concurrency {
            let client = clients[w % clients.count]
            workers.addTask {
              var random = SeededGenerator(seed: UInt64(w + 1) &* 0x9E37_79B9)
              while DispatchTime.now().uptimeNanoseconds < end {
                let intended = DispatchTime.now().uptimeNanoseconds
                do { try await call(client, draw.request(&random)); record(intended, nil) } catch {
                  record(intended, error)
                }
              }
            }
          }
          try await workers.waitForAll()
        }
      case .open(let rate):
        let interval = 1e9 / rate
        await withTaskGroup(of: Void.self) { calls in
          var k = 0
          var random = SeededGenerator(seed: 0x5EED)
          while true {
            let intended = start + UInt64(interval * Double(k))
            guard intended < end else { break }
            let now = DispatchTime.now().uptimeNanoseconds
            if intended > now { try? await Task.sleep(for: .nanoseconds(Int64(intended - now))) }
            let client = clients[k % clients.count], request = draw.request(&random)
            calls.addTask {
              do { try await call(client, request); record(intended, nil) } catch { record(intended, error) }
            }
            k += 1
          }
          await calls.waitForAll()
        }
      }
      for client in clients { client.beginGracefulShutdown() }
      try await group.waitForAll()
    }
    var result = shared.value.withLock { $0 }
    result.elapsed = Double(end - start) / 1e9
    return result
  }
}

/// Results shared by the gRPC load's tasks.
final class ResultBox: Sendable {
  let value = Mutex(BenchResult())
}

/// Draws a customer uniformly from the store for each request, and encodes the DecideRequest
/// (customer_id = 1, channel = 2, max_offers = 4: three varints) without a protobuf library.
struct CustomerDraw: Sendable {
  let first: UInt64, count: UInt64, channel: UInt64, offers: UInt64

  func customer(_ random: inout SeededGenerator) -> UInt64 { first + random.next() % count }

  func request(_ random: inout SeededGenerator) -> Arbiter_V1_DecideRequest {
    let id = customer(&random)
    return .with {
      $0.customerID = id
      $0.channel = Arbiter_V1_Channel(rawValue: Int(channel)) ?? .web
      $0.maxOffers = UInt32(offers)
    }
  }

  func encoded(_ random: inout SeededGenerator) -> [UInt8] {
    var out: [UInt8] = []
    out.reserveCapacity(16)
    func varint(_ value: UInt64) {
      var v = value
      while v >= 0x80 {
        out.append(UInt8(v & 0x7F) | 0x80)
        v >>= 7
      }
      out.append(UInt8(v))
    }
    out.append(0x08)
    varint(customer(&random))
    out.append(0x10)
    varint(channel)
    out.append(0x20)
    varint(offers)
    return out
  }
}
