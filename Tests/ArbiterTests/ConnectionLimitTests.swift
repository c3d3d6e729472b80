import ArbiterAPI
import ArbiterCore
import ArbiterServer
import Foundation
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// A blocking TCP socket for connection tests: what the server sends until it closes.
final class RawSocket {
  let fd: Int32
  /// When it connected.
  let opened = Date()

  init(port: Int) throws { fd = try Self.connected(port: port, timeoutSeconds: 30) }

  /// A socket connected to the loopback `port`, whose reads give up after `timeoutSeconds`.
  static func connected(port: Int, timeoutSeconds: Int) throws -> Int32 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
      }
    }
    guard connected == 0 else {
      close(fd)
      throw TestFailure("connect to port \(port) failed")
    }
    var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    return fd
  }

  deinit { close(fd) }

  func send(_ bytes: [UInt8]) { bytes.withUnsafeBytes { _ = write(fd, $0.baseAddress, $0.count) } }

  /// Everything received until the server closes the connection, and how long after connecting
  /// that was; nil when it is still open after the socket's 30 s timeout.
  func untilClosed() -> (bytes: [UInt8], seconds: Double)? {
    let started = opened
    var received: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65_536)
    while true {
      let got = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, 65_536, 0) }
      if got == 0 { return (received, Date().timeIntervalSince(started)) }
      if got < 0 { return errno == ECONNRESET ? (received, Date().timeIntervalSince(started)) : nil }
      received += chunk[0..<got]
    }
  }
}

/// Every door bounds its connections (a connection past the bound is told so, where the door has a
/// way, and closed) and closes one that stays silent for its idle timeout, whole or half-sent.
@Suite(.serialized) struct ConnectionLimitTests {
  /// A bound of two and no idle timeout (so that the bound is tested without a race against it),
  /// and an idle timeout of 1.5 s without a bound.
  static let bounded = ConnectionPolicy(maxConnections: 2, idleTimeout: nil)
  static let idle = ConnectionPolicy(maxConnections: nil, idleTimeout: .milliseconds(1_500))

  /// Waits until the server holds `count` connections on `door` (accepting takes a moment on a
  /// loaded machine).
  static func waitUntil(_ server: ArbiterServer, holds count: Int, on door: String) async throws {
    for _ in 0..<2_000 {
      if server.metrics.connections(of: door)?.openNow == count { return }
      try await Task.sleep(for: .milliseconds(10))
    }
    throw TestFailure("the \(door) door did not hold \(count) connections within 20 s")
  }

  static func server(_ policy: ConnectionPolicy) throws -> ArbiterServer {
    try TestSupport.makeServer {
      $0.lean.connections = policy
      $0.http.connections = policy
      $0.grpc.connections = policy
    }
  }

  /// On a bounded server: two connections (one half-sent with `partial`) are held, a third is
  /// refused with what `refusal` checks, and once one of the two is closed a new one is held.
  /// On a server with the idle timeout: a silent and a half-sent connection are closed after it.
  static func check(
    door: String, partial: [UInt8], start: @escaping @Sendable (ArbiterServer) async throws -> Int,
    refusal: ([UInt8]) -> Void
  ) async throws {
    let bounded = try server(Self.bounded), idle = try server(Self.idle)
    try await withThrowingTaskGroup(of: Void.self) { group in
      let ports = try await (start(bounded), start(idle))
      let second = try RawSocket(port: ports.0)
      second.send(partial)
      do {
        let first = try RawSocket(port: ports.0)
        try await waitUntil(bounded, holds: 2, on: door)
        let refused = try #require(try RawSocket(port: ports.0).untilClosed())
        #expect(refused.seconds < 10, "refused at once: \(refused.seconds) s")
        refusal(refused.bytes)
        #expect(bounded.metrics.connections(of: door)?.refused == 1)
        _ = first  // closed here, giving its place back
      }
      try await waitUntil(bounded, holds: 1, on: door)
      let again = try RawSocket(port: ports.0)
      try await waitUntil(bounded, holds: 2, on: door)
      withExtendedLifetime((second, again)) {}

      let silent = try RawSocket(port: ports.1)
      let halfSent = try RawSocket(port: ports.1)
      halfSent.send(partial)
      for socket in [silent, halfSent] {
        let closed = try #require(socket.untilClosed(), "a silent connection is closed")
        #expect(closed.seconds > 1.2 && closed.seconds < 20, "after the idle timeout: \(closed.seconds) s")
      }
      group.cancelAll()
    }
  }

  @Test(.timeLimit(.minutes(2))) func theLeanDoorRefusesPastItsBoundAndClosesSilentConnections() async throws {
    // The preamble and the first 6 bytes of a request frame.
    try await Self.check(
      door: "lean", partial: Array("ARB1".utf8) + [0, 0, 0, 40, 1, 0],
      start: { server in
        Task { try await server.runLeanServer(port: 0) }
        return try await TestSupport.leanPort(of: server)
      }
    ) { bytes in
      guard bytes.count > 16 else {
        Issue.record("no error frame: \(bytes)")
        return
      }
      #expect(bytes[4] == 4, "an error frame")
      #expect(Int(bytes[12]) << 8 | Int(bytes[13]) == 8, "RESOURCE_EXHAUSTED")
      let message = String(decoding: bytes.dropFirst(16).prefix(200), as: UTF8.self)
      #expect(message.contains("the lean door has its limit of 2 connections open"), "\(message)")
    }
  }

  @Test(.timeLimit(.minutes(2))) func theHTTPDoorAnswers503PastItsBoundAndClosesSilentConnections() async throws {
    try await Self.check(
      door: "http", partial: Array("POST /v1/decide HTTP/1.1\r\nHost: x\r\nContent-Len".utf8),
      start: { server in
        Task { try await server.httpService(port: 0).run() }
        return try await TestSupport.httpPort(of: server)
      }
    ) { bytes in
      let text = String(decoding: bytes, as: UTF8.self)
      #expect(text.hasPrefix("HTTP/1.1 503 Service Unavailable\r\n"), "\(text)")
      #expect(text.contains(#""code":"RESOURCE_EXHAUSTED""#) && text.contains("limit of 2 connections"))
    }
  }

  @Test(.timeLimit(.minutes(2))) func theGRPCDoorClosesPastItsBoundAndClosesSilentConnections() async throws {
    // The start of HTTP/2's preface.
    try await Self.check(
      door: "grpc", partial: Array("PRI * HTTP/2.0\r\n".utf8),
      start: { server in
        let grpc = server.makeGRPCServer()
        Task { try await grpc.serve() }
        return try #require(try await grpc.listeningAddress?.ipv4).port
      }
    ) { bytes in
      #expect(bytes.isEmpty, "closed without a word")
    }
  }
}
