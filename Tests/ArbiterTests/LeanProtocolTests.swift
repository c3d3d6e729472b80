import ArbiterAPI
import ArbiterCore
import ArbiterDecisioning
import ArbiterServer
import ArbiterService
import Foundation
import SwiftProtobuf
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// A blocking lean-protocol test client over a POSIX socket.
final class LeanTestClient {
  let fd: Int32
  private var buffer: [UInt8] = []

  init(port: Int, preamble: [UInt8] = Array("ARB1".utf8)) throws {
    // Long enough for a loaded test run (the whole suite on 2 cores), where the concurrency pool
    // can be busy for seconds with other tests.
    fd = try RawSocket.connected(port: port, timeoutSeconds: 60)
    send(preamble)
  }

  deinit { close(fd) }

  func send(_ bytes: [UInt8]) { bytes.withUnsafeBytes { _ = write(fd, $0.baseAddress, $0.count) } }

  static func frame(
    type: UInt8 = 1, stream: UInt32, method: String, timeoutMicros: UInt32 = 0, requestId: String = "", message: [UInt8]
  ) -> [UInt8] {
    var payload: [UInt8] = []
    func be<T: FixedWidthInteger>(_ v: T) -> [UInt8] { withUnsafeBytes(of: v.bigEndian) { Array($0) } }
    payload +=
      be(UInt16(method.utf8.count)) + Array(method.utf8) + be(timeoutMicros) + [UInt8(requestId.utf8.count)]
      + Array(requestId.utf8) + message
    return be(UInt32(8 + payload.count)) + [type, 0, 0, 0] + be(stream) + payload
  }

  /// A hello frame carrying `credential` (docs/lean-protocol.md), on stream 0.
  static func hello(_ credential: String, stream: UInt32 = 0) -> [UInt8] {
    func be<T: FixedWidthInteger>(_ v: T) -> [UInt8] { withUnsafeBytes(of: v.bigEndian) { Array($0) } }
    return be(UInt32(8 + credential.utf8.count)) + [3, 0, 0, 0] + be(stream) + Array(credential.utf8)
  }

  struct Response {
    var type: UInt8, stream: UInt32, status: Int, message: String, requestId: String, body: [UInt8]
  }

  /// The next frame, or nil when the server closed the connection.
  func read() throws -> Response? {
    func fill(_ n: Int) -> Bool {
      var chunk = [UInt8](repeating: 0, count: 65_536)
      while buffer.count < n {
        let got = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, 65_536, 0) }
        if got <= 0 { return false }
        buffer += chunk[0..<got]
      }
      return true
    }
    guard fill(4) else { return nil }
    let length = Int(buffer[0]) << 24 | Int(buffer[1]) << 16 | Int(buffer[2]) << 8 | Int(buffer[3])
    guard fill(4 + length) else { throw TestFailure("truncated frame") }
    let f = Array(buffer[0..<(4 + length)])
    buffer.removeFirst(4 + length)
    let stream = UInt32(f[8]) << 24 | UInt32(f[9]) << 16 | UInt32(f[10]) << 8 | UInt32(f[11])
    let status = Int(f[12]) << 8 | Int(f[13])
    let messageLength = Int(f[14]) << 8 | Int(f[15])
    let message = String(decoding: f[16..<(16 + messageLength)], as: UTF8.self)
    let idLength = Int(f[16 + messageLength])
    let id = String(decoding: f[(17 + messageLength)..<(17 + messageLength + idLength)], as: UTF8.self)
    return Response(
      type: f[4], stream: stream, status: status, message: message, requestId: id,
      body: Array(f[(17 + messageLength + idLength)...]))
  }
}

/// The lean protocol over a real socket: calls, statuses, deadlines, pipelining, and protocol
/// violations that close one connection and leave the others serving.
@Suite struct LeanProtocolTests {
  @Test(.timeLimit(.minutes(2))) func leanProtocolOverTCP() async throws {
    let server = try TestSupport.makeServer()
    try await withThrowingTaskGroup(of: Void.self) { group in
      group.addTask { try await server.runLeanServer(port: 0) }
      let lean = try await TestSupport.leanPort(of: server)
      let decide = "/arbiter.v1.DecisionService/Decide"
      func request(_ customer: UInt64, _ channel: Arbiter_V1_Channel = .web) throws -> [UInt8] {
        try Arbiter_V1_DecideRequest.with {
          $0.customerID = customer; $0.channel = channel; $0.maxOffers = 3
        }.serializedBytes()
      }

      let client = try LeanTestClient(port: lean)
      // 40 calls in flight at once, each answered once with its stream and request id.
      var frames: [UInt8] = []
      for k in 1...40 {
        frames += LeanTestClient.frame(
          stream: UInt32(k), method: decide, requestId: "req-\(k)", message: try request(100_000 + UInt64(k)))
      }
      client.send(frames)
      var seen = Set<UInt32>()
      for _ in 1...40 {
        let response = try #require(try client.read())
        #expect(response.type == 2 && response.status == 0 && response.requestId == "req-\(response.stream)")
        let decision = try Arbiter_V1_DecideResponse(serializedBytes: response.body)
        #expect(decision.customerID == 100_000 + UInt64(response.stream))
        seen.insert(response.stream)
      }
      #expect(seen == Set(1...40))

      // Statuses: unknown customer, malformed message, unknown method, a deadline no decision meets.
      client.send(LeanTestClient.frame(stream: 41, method: decide, message: try request(5)))
      let notFound = try #require(try client.read())
      #expect(notFound.stream == 41 && notFound.status == 5 && notFound.message == "customer 5 not found")
      client.send(LeanTestClient.frame(stream: 42, method: decide, message: [0xff, 0xff, 0xff]))
      let malformed = try #require(try client.read())
      #expect(malformed.status == 3 && malformed.message.hasPrefix("malformed arbiter.v1.DecideRequest"))
      client.send(LeanTestClient.frame(stream: 43, method: "/arbiter.v1.DecisionService/Nope", message: []))
      #expect(try client.read()?.status == 12)
      client.send(LeanTestClient.frame(stream: 44, method: decide, timeoutMicros: 1, message: try request(100_042)))
      let late = try #require(try client.read())
      #expect(late.status == 4 && late.message.contains("deadline"))
      // A pooled method answers too, and the no-op baseline.
      client.send(LeanTestClient.frame(stream: 45, method: "/arbiter.v1.AdminService/GetStatus", message: []))
      let status = try #require(try client.read())
      let serverStatus = try Arbiter_V1_ServerStatus(serializedBytes: status.body)
      #expect(status.status == 0 && serverStatus.offers == 22)
      client.send(
        LeanTestClient.frame(stream: 46, method: "/arbiter.v1.BenchmarkService/Echo", message: try request(100_042)))
      #expect(try Arbiter_V1_DecideResponse(serializedBytes: try #require(try client.read()).body).offers.count == 5)

      // Violations close that connection with an error frame; the first client keeps working.
      for (preamble, bytes, expected) in [
        (Array("ARB1".utf8), [0x7f, 0xff, 0xff, 0xff] as [UInt8], "exceeds the maximum frame size"),
        (Array("GET ".utf8), [], "preamble"),
        (
          Array("ARB1".utf8), LeanTestClient.frame(type: 9, stream: 1, method: decide, message: []),
          "unknown frame type 9"
        ),
        (Array("ARB1".utf8), LeanTestClient.frame(stream: 0, method: decide, message: []), "nonzero stream id"),
      ] {
        let bad = try LeanTestClient(port: lean, preamble: preamble)
        bad.send(bytes)
        let error = try #require(try bad.read())
        #expect(
          error.type == 4 && error.stream == 0 && error.status == 3 && error.message.contains(expected),
          "\(error.message)")
        #expect(try bad.read() == nil, "the server closed the connection")
      }
      client.send(LeanTestClient.frame(stream: 47, method: decide, message: try request(100_042)))
      #expect(try client.read()?.status == 0)
      group.cancelAll()
    }
  }

  /// A decision whose deadline passes is not made: no log line, no contact history, no quota
  /// or capacity used — whether it expired before it started or while it was decided.
  @Test(.timeLimit(.minutes(2))) func aDecisionPastItsDeadlineLeavesNoTrace() async throws {
    let server = try TestSupport.makeServer()
    let live = server.live
    let budget = try #require(live.snapshot.engine.catalogue.capacityBudgets[Channel.contactCentre.ordinal])
    let day = TestSupport.fixedClockDays
    // Decided, then found unwanted: given back.
    let request = DecisionRequest(customerId: 100_042, channel: .contactCentre, maxOffers: 3)
    #expect(throws: ArbiterError(.deadlineExceeded, "the deadline passed while deciding; the decision was not made")) {
      try live.decide(request, stillWanted: { false })
    }
    #expect(budget.used(at: day) == 0 && live.log.counts.decisions == 0)
    #expect(live.log.recent(customerId: 100_042, limit: 10).isEmpty)
    #expect(throws: ArbiterError.self) {
      try live.personalize(
        DecisionRequest(customerId: 100_042, channel: .contactCentre),
        slots: [SlotRequest(name: "s", contentType: "", count: 2)],
        stillWanted: { false })
    }
    #expect(budget.used(at: day) == 0 && live.log.counts.decisions == 0)

    try await withThrowingTaskGroup(of: Void.self) { group in
      group.addTask { try await server.runLeanServer(port: 0) }
      let client = try LeanTestClient(port: try await TestSupport.leanPort(of: server))
      let decide = "/arbiter.v1.DecisionService/Decide"
      let message: [UInt8] = try Arbiter_V1_DecideRequest.with {
        $0.customerID = 100_042
        $0.channel = .contactCentre
        $0.maxOffers = 3
      }.serializedBytes()
      // A burst: the first call is slow work for the ones behind it, whose 1 µs has passed.
      var frames: [UInt8] = []
      for k in 1...20 {
        frames += LeanTestClient.frame(stream: UInt32(k), method: decide, timeoutMicros: 1, message: message)
      }
      client.send(frames)
      for _ in 1...20 {
        let response = try #require(try client.read())
        #expect(response.status == 4 && response.message.contains("deadline"), "\(response.message)")
      }
      #expect(budget.used(at: day) == 0 && live.log.counts.decisions == 0)
      #expect(live.log.recent(customerId: 100_042, limit: 10).isEmpty)
      // With time to spare, the same call is made and counted.
      client.send(LeanTestClient.frame(stream: 21, method: decide, timeoutMicros: 5_000_000, message: message))
      let made = try Arbiter_V1_DecideResponse(serializedBytes: try #require(try client.read()).body)
      #expect(!made.offers.isEmpty && live.log.counts.decisions == 1 && budget.used(at: day) > 0)
      group.cancelAll()
    }
  }
}
