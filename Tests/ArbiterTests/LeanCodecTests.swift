import ArbiterAPI
import ArbiterAccess
import ArbiterCore
import ArbiterLean
import Foundation
import GRPCCore
import Logging
import NIOCore
import NIOEmbedded
import NIOTestUtils
import Synchronization
import Testing

/// The lean protocol's codecs and handler without a server or a socket, as swift-nio tests its
/// own codecs: an `EmbeddedChannel`, and `ByteToMessageDecoderVerifier` for the decoder.
@Suite struct LeanCodecTests {
  static let allocator = ByteBufferAllocator()

  /// The frame `frame` is, as bytes: header and payload.
  static func bytes(of frame: LeanFrame) throws -> ByteBuffer {
    var out = allocator.buffer(capacity: 64)
    try LeanFrameEncoder().encode(data: frame, out: &out)
    return out
  }

  static func frame(_ kind: LeanFrame.Kind, stream: UInt32, payload: [UInt8]) -> LeanFrame {
    LeanFrame(kind: kind, stream: stream, payload: allocator.buffer(bytes: payload))
  }

  /// Frames of every type, empty and not, on various streams.
  static let sampleFrames: [LeanFrame] = [
    frame(.request, stream: 1, payload: [0, 1, 0x2f, 0, 0, 0, 0, 0]),
    frame(.response, stream: 7, payload: []),
    frame(.request, stream: 0xffff_ffff, payload: Array(repeating: 0xab, count: 300)),
    frame(.error, stream: 0, payload: [0, 3, 0, 1, 0x78, 0]),
  ]

  /// A decoder behind a `ByteToMessageHandler` in an embedded channel.
  static func decoderChannel(maxFrameSize: Int = 1_024, expectsPreamble: Bool) throws -> EmbeddedChannel {
    let channel = EmbeddedChannel()
    let decoder = LeanFrameDecoder(maxFrameSize: maxFrameSize, expectsPreamble: expectsPreamble)
    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(decoder))
    return channel
  }

  /// The bytes of the documented example (docs/lean-protocol.md, "Example"): the hex column of
  /// its code block.
  static func documentedExample(_ heading: String = "Example") throws -> [UInt8] {
    let text = try String(contentsOfFile: TestSupport.repoRoot + "/docs/lean-protocol.md", encoding: .utf8)
    let sections = text.components(separatedBy: "\n## ")
    let example = try #require(sections.first { $0.hasPrefix(heading + "\n") }, "no section '## \(heading)'")
    let hexColumn = try Regex("^    ((?:[0-9a-f]{2} )*[0-9a-f]{2})(?:\\s{2,}|$)")
    var bytes: [UInt8] = []
    for line in example.split(separator: "\n") {
      guard let match = try hexColumn.firstMatch(in: String(line)), let hex = match.output[1].substring else {
        continue
      }
      bytes += hex.split(separator: " ").map { UInt8($0, radix: 16)! }
    }
    return bytes
  }

  // MARK: the decoder

  @Test func decoderPassesTheVerifier() throws {
    let pairs = try Self.sampleFrames.map { (try Self.bytes(of: $0), [$0]) }
    try ByteToMessageDecoderVerifier.verifyDecoder(inputOutputPairs: pairs) {
      LeanFrameDecoder(maxFrameSize: 1_024, expectsPreamble: false)
    }
    // The verifier feeds one channel its inputs many times over, and the preamble comes once a
    // connection: a decoder expecting it is fed the preamble and then the frames byte by byte.
    let channel = try Self.decoderChannel(expectsPreamble: true)
    var stream = LeanFrame.preamble
    for frame in Self.sampleFrames { stream += Array(try Self.bytes(of: frame).readableBytesView) }
    for byte in stream { try channel.writeInbound(Self.allocator.buffer(bytes: [byte])) }
    for frame in Self.sampleFrames { #expect(try channel.readInbound(as: LeanFrame.self) == frame) }
    #expect(try channel.finish().isClean)
  }

  @Test func decoderReadsAFrameSplitAtEveryByteBoundary() throws {
    let bytes = try Self.documentedExample()
    for split in 1..<bytes.count {
      let channel = try Self.decoderChannel(expectsPreamble: true)
      try channel.writeInbound(Self.allocator.buffer(bytes: bytes[..<split]))
      #expect(try channel.readInbound(as: LeanFrame.self) == nil, "a frame before its last byte, split at \(split)")
      try channel.writeInbound(Self.allocator.buffer(bytes: bytes[split...]))
      let frame = try #require(try channel.readInbound(as: LeanFrame.self), "split at \(split)")
      #expect(frame.kind == .request && frame.stream == 1 && frame.payload.readableBytes == bytes.count - 16)
      #expect(try channel.finish().isClean)
    }
  }

  @Test func decoderRefusesAWrongPreamble() throws {
    let channel = try Self.decoderChannel(expectsPreamble: true)
    try channel.writeInbound(Self.allocator.buffer(string: "GE"))
    #expect(try channel.readInbound(as: LeanFrame.self) == nil)
    #expect(
      throws: LeanProtocolError(
        message: "the connection does not start with the lean protocol's preamble \"ARB1\"")
    ) {
      try channel.writeInbound(Self.allocator.buffer(string: "T / HTTP/1.1\r\n"))
    }
    _ = try? channel.finish()
  }

  @Test func decoderRefusesAnOversizeFrameFromItsLengthAlone() throws {
    let channel = try Self.decoderChannel(maxFrameSize: 1_024, expectsPreamble: false)
    // Only the length field has arrived: refused before any of the frame is buffered.
    #expect(throws: LeanProtocolError(message: "frame of 1025 bytes exceeds the maximum frame size of 1024 bytes")) {
      try channel.writeInbound(Self.allocator.buffer(bytes: [0, 0, 0x04, 0x01]))
    }
    _ = try? channel.finish()
    // The largest frame allowed is read.
    let largest = Self.frame(.request, stream: 3, payload: Array(repeating: 1, count: 1_024 - 8))
    let accepting = try Self.decoderChannel(maxFrameSize: 1_024, expectsPreamble: false)
    try accepting.writeInbound(try Self.bytes(of: largest))
    #expect(try accepting.readInbound(as: LeanFrame.self) == largest)
    #expect(try accepting.finish().isClean)
  }

  @Test func decoderRefusesATruncatedHeaderUnknownTypesAndFlags() throws {
    let violations: [([UInt8], String)] = [
      ([0, 0, 0, 7, 1, 0, 0, 0, 0, 0, 0], "frame length 7 is below the 8-byte header"),
      ([0, 0, 0, 8, 9, 0, 0, 0, 0, 0, 0, 1], "unknown frame type 9"),
      ([0, 0, 0, 8, 5, 0, 0, 0, 0, 0, 0, 1], "unknown frame type 5"),
      ([0, 0, 0, 8, 1, 1, 0, 0, 0, 0, 0, 1], "frame flags and reserved bits must be 0"),
      ([0, 0, 0, 8, 1, 0, 0, 2, 0, 0, 0, 1], "frame flags and reserved bits must be 0"),
    ]
    for (bytes, message) in violations {
      let channel = try Self.decoderChannel(expectsPreamble: false)
      #expect(throws: LeanProtocolError(message: message)) {
        try channel.writeInbound(Self.allocator.buffer(bytes: bytes))
      }
      _ = try? channel.finish()
    }
  }

  @Test func decoderPassesStreamZeroOnForTheHandlerToJudge() throws {
    // Error frames come on stream 0 (a client reads them); a request there is the handler's to refuse.
    let channel = try Self.decoderChannel(expectsPreamble: false)
    let error = Self.frame(.error, stream: 0, payload: [0, 3, 0, 0, 0])
    try channel.writeInbound(try Self.bytes(of: error))
    #expect(try channel.readInbound(as: LeanFrame.self) == error)
    #expect(try channel.finish().isClean)
  }

  @Test func requestAndResponseHeadsRefuseTruncatedPayloads() throws {
    var full = Self.allocator.buffer(bytes: [0, 2, 0x2f, 0x78, 0, 0, 0, 5, 2, 0x72, 0x31, 0xaa])
    #expect(try LeanRequestHead(parsing: &full) == LeanRequestHead(method: "/x", timeoutMicros: 5, requestId: "r1"))
    #expect(Array(full.readableBytesView) == [0xaa])
    for cut in 0..<11 {
      var payload = Self.allocator.buffer(bytes: [0, 2, 0x2f, 0x78, 0, 0, 0, 5, 2, 0x72, 0x31][..<cut])
      #expect(throws: LeanProtocolError(message: "request header is truncated")) {
        try LeanRequestHead(parsing: &payload)
      }
    }
    var cutResponse = Self.allocator.buffer(bytes: [0, 5, 0, 4, 0x6e])
    #expect(throws: LeanProtocolError(message: "response header is truncated")) {
      try LeanResponseHead(parsing: &cutResponse)
    }
  }

  // MARK: the encoder

  @Test func encoderWritesTheDocumentedExample() throws {
    let documented = try Self.documentedExample()
    #expect(documented.count == 4 + 4 + 57, "the example's bytes in docs/lean-protocol.md: \(documented.count)")
    let message: [UInt8] = try Arbiter_V1_DecideRequest.with {
      $0.customerID = 100_042
      $0.channel = .contactCentre
    }.serializedBytes()
    #expect(message == [0x08, 0xca, 0x8d, 0x06, 0x10, 0x03])
    var out = Self.allocator.buffer(bytes: LeanFrame.preamble)
    let method = LeanMethodTable.path(of: Arbiter_V1_DecisionService.Method.Decide.descriptor)
    #expect(method == "/arbiter.v1.DecisionService/Decide")
    LeanFrameEncoder.writeRequestFrame(
      stream: 1, method: Array(method.utf8), timeoutMicros: 0, requestId: Array("r1".utf8), message: message,
      into: &out)
    #expect(Array(out.readableBytesView) == documented)

    // The MessageToByteEncoder writes the same frame in a channel's outbound pipeline.
    let channel = EmbeddedChannel(handler: MessageToByteHandler(LeanFrameEncoder()))
    let payload = Self.allocator.buffer(bytes: documented[16...])
    try channel.writeOutbound(LeanFrame(kind: .request, stream: 1, payload: payload))
    let written = try #require(try channel.readOutbound(as: ByteBuffer.self))
    #expect(Array(written.readableBytesView) == Array(documented[4...]))
    #expect(try channel.finish().isClean)
  }

  @Test func encoderWritesAResponseFrame() throws {
    var out = Self.allocator.buffer(capacity: 64)
    LeanFrameEncoder.writeResponseFrame(
      stream: 0x0102_0304, status: .notFound, message: "customer 5 not found", requestId: "r1", body: [0x0a, 0x00],
      into: &out)
    let expected: [UInt8] =
      [0, 0, 0, 37, 2, 0, 0, 0, 1, 2, 3, 4, 0, 5, 0, 20] + Array("customer 5 not found".utf8) + [2] + Array("r1".utf8)
      + [0x0a, 0x00]
    #expect(Array(out.readableBytesView) == expected)
    // And the decoder and the head read it back.
    let channel = try Self.decoderChannel(expectsPreamble: false)
    try channel.writeInbound(out)
    var frame = try #require(try channel.readInbound(as: LeanFrame.self))
    #expect(frame.kind == .response && frame.stream == 0x0102_0304)
    let head = try LeanResponseHead(parsing: &frame.payload)
    #expect(head == LeanResponseHead(status: 5, message: "customer 5 not found", requestId: "r1"))
    #expect(Array(frame.payload.readableBytesView) == [0x0a, 0x00])
    #expect(try channel.finish().isClean)
  }

  // MARK: the handler

  /// How often the stubbed methods ran.
  final class Calls: Sendable {
    let count = Mutex(0)
    func add() { count.withLock { $0 += 1 } }
    var value: Int { count.withLock { $0 } }
  }

  /// A handler (behind its decoder) over a stubbed table: Echo answers its request's bytes
  /// reversed, after `work` seconds; GetProfile fails with NOT_FOUND.
  /// With `authenticator`, calls need the hello's credential and their role.
  static func handlerChannel(
    calls: Calls, work: Double = 0, authenticator: Authenticator? = nil
  ) throws -> EmbeddedChannel {
    let table = LeanMethodTable([
      Arbiter_V1_BenchmarkService.Method.Echo.descriptor: .inline { bytes, _, stillWanted throws(ArbiterError) in
        calls.add()
        if work > 0 { Thread.sleep(forTimeInterval: work) }
        guard stillWanted() else { throw ArbiterError(.deadlineExceeded, "unwanted") }
        return bytes.reversed()
      },
      Arbiter_V1_ProfileService.Method.GetProfile.descriptor: .inline { _, _, _ throws(ArbiterError) in
        calls.add()
        throw ArbiterError(.notFound, "customer 5 not found")
      },
    ])
    var logger = Logger(label: "lean-codec-tests")
    logger.logLevel = .warning
    let channel = EmbeddedChannel()
    try channel.pipeline.syncOperations.addHandler(
      ByteToMessageHandler(LeanFrameDecoder(maxFrameSize: 1_024, expectsPreamble: true)))
    try channel.pipeline.syncOperations.addHandler(
      LeanServerHandler(methods: table, authenticator: authenticator, logger: logger))
    try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
    return channel
  }

  struct Answer: Equatable {
    var kind: LeanFrame.Kind, stream: UInt32, head: LeanResponseHead, body: [UInt8]
  }

  /// Every frame the handler wrote so far.
  static func answers(_ channel: EmbeddedChannel) throws -> [Answer] {
    let decoder = try decoderChannel(expectsPreamble: false)
    while let out = try channel.readOutbound(as: ByteBuffer.self) { try decoder.writeInbound(out) }
    var answers: [Answer] = []
    while var frame = try decoder.readInbound(as: LeanFrame.self) {
      let head = try LeanResponseHead(parsing: &frame.payload)
      let body = Array(frame.payload.readableBytesView)
      answers.append(Answer(kind: frame.kind, stream: frame.stream, head: head, body: body))
    }
    #expect(try decoder.finish().isClean)
    return answers
  }

  static func request(
    stream: UInt32, _ descriptor: MethodDescriptor, timeoutMicros: UInt32 = 0, requestId: String = "", message: [UInt8]
  ) -> [UInt8] {
    var out = allocator.buffer(capacity: 64)
    let method = Array(LeanMethodTable.path(of: descriptor).utf8)
    LeanFrameEncoder.writeRequestFrame(
      stream: stream, method: method, timeoutMicros: timeoutMicros, requestId: Array(requestId.utf8), message: message,
      into: &out)
    return Array(out.readableBytesView)
  }

  @Test func handlerAnswersRequestsFromItsMethodTable() throws {
    let calls = Calls()
    let channel = try Self.handlerChannel(calls: calls)
    let echo = Arbiter_V1_BenchmarkService.Method.Echo.descriptor
    let profile = Arbiter_V1_ProfileService.Method.GetProfile.descriptor
    let unknown = Arbiter_V1_DecisionService.Method.SelectOutbound.descriptor
    // One burst: answered in one write, each with its stream and request id.
    var burst = LeanFrame.preamble
    burst += Self.request(stream: 1, echo, requestId: "r1", message: [1, 2, 3])
    burst += Self.request(stream: 2, profile, requestId: "r2", message: [])
    burst += Self.request(stream: 3, unknown, message: [])
    burst += Self.request(stream: 4, echo, timeoutMicros: 5_000_000, message: [9])
    try channel.writeInbound(Self.allocator.buffer(bytes: burst))
    #expect(
      try Self.answers(channel) == [
        Answer(
          kind: .response, stream: 1, head: LeanResponseHead(status: 0, message: "", requestId: "r1"), body: [3, 2, 1]),
        Answer(
          kind: .response, stream: 2,
          head: LeanResponseHead(
            status: RPCError.Code.notFound.rawValue, message: "customer 5 not found", requestId: "r2"),
          body: []),
        Answer(
          kind: .response, stream: 3,
          head: LeanResponseHead(
            status: RPCError.Code.unimplemented.rawValue,
            message: "method /arbiter.v1.DecisionService/SelectOutbound is not served over the lean protocol",
            requestId: ""),
          body: []),
        Answer(kind: .response, stream: 4, head: LeanResponseHead(status: 0, message: "", requestId: ""), body: [9]),
      ])
    #expect(calls.value == 3 && channel.isActive)
    #expect(try channel.finish().isClean)
  }

  @Test func handlerRefusesACallThatExpiredBehindItsBurstBeforeAnyWork() throws {
    let calls = Calls()
    let channel = try Self.handlerChannel(calls: calls, work: 0.01)
    let echo = Arbiter_V1_BenchmarkService.Method.Echo.descriptor
    // The second call's 2 ms count from the start of the burst, which the first call's 10 ms use up.
    var burst = LeanFrame.preamble
    burst += Self.request(stream: 1, echo, message: [1])
    burst += Self.request(stream: 2, echo, timeoutMicros: 2_000, message: [2])
    try channel.writeInbound(Self.allocator.buffer(bytes: burst))
    let answers = try Self.answers(channel)
    #expect(answers.map(\.stream) == [1, 2] && answers[0].head.status == 0)
    #expect(answers[1].head.status == RPCError.Code.deadlineExceeded.rawValue)
    #expect(answers[1].head.message == "deadline of 2000 µs passed before the call started")
    #expect(calls.value == 1, "the expired call did no work")
    #expect(try channel.finish().isClean)
  }

  @Test func handlerFailsAProtocolViolationWithAnErrorFrameAndCloses() throws {
    let echo = Arbiter_V1_BenchmarkService.Method.Echo.descriptor
    var truncated = Self.allocator.buffer(capacity: 16)
    LeanFrameEncoder.writeHeader(.request, stream: 5, payloadLength: 3, into: &truncated)
    truncated.writeBytes([0, 9, 0x2f])
    let violations: [([UInt8], String)] = [
      (
        Self.request(stream: 0, echo, message: []),
        "expected a request frame with a nonzero stream id, got type 1 on stream 0"
      ),
      (
        Array(try Self.bytes(of: Self.frame(.response, stream: 1, payload: [])).readableBytesView),
        "expected a request frame with a nonzero stream id, got type 2 on stream 1"
      ),
      (Array(truncated.readableBytesView), "request header is truncated"),
      ([0, 0, 0, 8, 9, 0, 0, 0, 0, 0, 0, 1], "unknown frame type 9"),
      ([0, 0, 0x10, 0, 1, 0, 0, 0], "frame of 4096 bytes exceeds the maximum frame size of 1024 bytes"),
    ]
    for (bytes, message) in violations {
      let calls = Calls()
      let channel = try Self.handlerChannel(calls: calls)
      // A call answered before the violation in the same burst still gets its answer first.
      let burst = LeanFrame.preamble + Self.request(stream: 1, echo, message: [7]) + bytes
      try channel.writeInbound(Self.allocator.buffer(bytes: burst))
      let answers = try Self.answers(channel)
      #expect(answers.count == 2 && answers.first?.body == [7], "\(message)")
      #expect(
        answers.last
          == Answer(
            kind: .error, stream: 0, head: LeanResponseHead(status: 3, message: message, requestId: ""), body: []))
      #expect(!channel.isActive, "the connection is closed after \(message)")
      _ = try? channel.finish(acceptAlreadyClosed: true)
    }
    // A wrong preamble too.
    let channel = try Self.handlerChannel(calls: Calls())
    try channel.writeInbound(Self.allocator.buffer(string: "GET / HTTP/1.1\r\n"))
    let answers = try Self.answers(channel)
    #expect(answers.count == 1 && answers[0].kind == .error && answers[0].head.message.contains("preamble \"ARB1\""))
    #expect(!channel.isActive)
    _ = try? channel.finish(acceptAlreadyClosed: true)
  }
}
