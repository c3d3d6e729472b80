import ArbiterAPI
import ArbiterServer
import Foundation
import NIOCore
import NIOPosix
import SwiftProtobuf
import Testing

/// The HTTP door over a real socket: the server's own service on a free loopback port, two
/// requests on one kept-alive connection.
@Suite struct HTTPSocketTests {
  @Test(.timeLimit(.minutes(2))) func decideAndStatusOnOneKeptAliveConnection() async throws {
    let server = try TestSupport.makeServer()
    let customer = server.store.customerIds().first!
    try await withThrowingTaskGroup(of: Void.self) { group in
      group.addTask { try await server.httpService(port: 0).run() }
      let bound = try await TestSupport.httpPort(of: server)
      let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .connect(host: "127.0.0.1", port: bound) { channel in
          channel.eventLoop.makeCompletedFuture {
            try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
          }
        }
      let body = #"{"customerId":"\#(customer)","channel":"CHANNEL_WEB","maxOffers":2}"#
      let requests =
        "POST /v1/decide HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        + "Content-Length: \(body.utf8.count)\r\nX-Request-Id: socket-1\r\n\r\n\(body)"
        + "GET /v1/status HTTP/1.1\r\nHost: localhost\r\n\r\n"
      try await channel.executeThenClose { inbound, outbound in
        try await outbound.write(ByteBuffer(string: requests))
        var received = ""
        for try await chunk in inbound {
          received += String(buffer: chunk)
          if Self.responses(in: received).count == 2 { break }
        }
        let answers = Self.responses(in: received)
        #expect(answers.count == 2)
        #expect(answers[0].head.hasPrefix("HTTP/1.1 200"))
        #expect(answers[0].head.lowercased().contains("x-request-id: socket-1"))
        let decision = try Arbiter_V1_DecideResponse(jsonString: answers[0].body)
        #expect(decision.customerID == customer && decision.requestID == "socket-1")
        #expect(answers[1].head.hasPrefix("HTTP/1.1 200"))
        #expect(try Arbiter_V1_ServerStatus(jsonString: answers[1].body).offers == 22)
      }
      group.cancelAll()
    }
  }

  /// The complete responses (head and Content-Length body) at the start of `text`.
  static func responses(in text: String) -> [(head: String, body: String)] {
    var rest = Substring(text)
    var found: [(String, String)] = []
    while let end = rest.range(of: "\r\n\r\n") {
      let head = String(rest[..<end.lowerBound])
      let length =
        head.split(separator: "\r\n").compactMap { line -> Int? in
          let parts = line.split(separator: ":", maxSplits: 1)
          guard parts.count == 2, parts[0].lowercased() == "content-length" else { return nil }
          return Int(parts[1].trimmingCharacters(in: .whitespaces))
        }.first ?? 0
      let bodyStart = end.upperBound
      guard rest.utf8.distance(from: bodyStart, to: rest.endIndex) >= length else { break }
      let bodyEnd = rest.utf8.index(bodyStart, offsetBy: length)
      found.append((head, String(rest[bodyStart..<bodyEnd])))
      rest = rest[bodyEnd...]
    }
    return found
  }
}
