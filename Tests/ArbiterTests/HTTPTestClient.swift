import ArbiterHTTP
import ArbiterServer
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOEmbedded

/// Calls the HTTP door's router in process (no socket): a request in, the status, headers and
/// body out.
struct HTTPTestClient {
  let responder: RouterResponder<ArbiterRequestContext>

  init(api: HTTPAPI, webRoot: String? = nil) {
    responder = api.router(webRoot: webRoot).buildResponder()
  }

  /// The door's tests' server (bodies up to 4 KiB, one CORS origin, `https://bank.example`) and a
  /// client of its router.
  static func makeDoorServer() throws -> (ArbiterServer, HTTPTestClient) {
    let server = try TestSupport.makeServer {
      $0.http.maxBodyBytes = 4_096
      $0.http.corsOrigins = ["https://bank.example"]
    }
    return (server, HTTPTestClient(api: server.httpAPI))
  }

  struct Answer {
    var status: Int
    var headers: HTTPFields
    var body: [UInt8]
    var text: String { String(decoding: body, as: UTF8.self) }
    /// The body as a JSON object.
    var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] ?? [:] }
  }

  /// The response's head and a stream of its body's chunks (for an event stream).
  func open(
    _ method: HTTPRequest.Method, _ path: String, body: String? = nil, headers: HTTPFields = [:]
  ) async throws -> (Response, AsyncStream<[UInt8]>, Task<Void, any Error>) {
    var fields = headers
    if body != nil, fields[.contentType] == nil { fields[.contentType] = "application/json" }
    let head = HTTPRequest(method: method, scheme: "http", authority: "localhost", path: path, headerFields: fields)
    let request = Request(head: head, body: RequestBody(buffer: ByteBuffer(string: body ?? "")))
    var logger = Logger(label: "http-test")
    logger.logLevel = .critical
    let context = ArbiterRequestContext(source: .init(channel: EmbeddedChannel(), logger: logger))
    let response = try await responder.respond(to: request, context: context)
    let (chunks, continuation) = AsyncStream<[UInt8]>.makeStream()
    let writing = Task {
      defer { continuation.finish() }
      try await response.body.write(ChunkWriter(continuation: continuation))
    }
    return (response, chunks, writing)
  }

  /// The whole answer.
  func call(
    _ method: HTTPRequest.Method, _ path: String, body: String? = nil, headers: HTTPFields = [:]
  ) async throws -> Answer {
    let (response, chunks, writing) = try await open(method, path, body: body, headers: headers)
    var bytes: [UInt8] = []
    for await chunk in chunks { bytes += chunk }
    try await writing.value
    return Answer(status: Int(response.status.code), headers: response.headers, body: bytes)
  }

  func post(_ path: String, _ body: String, headers: HTTPFields = [:]) async throws -> Answer {
    try await call(.post, path, body: body, headers: headers)
  }

  func get(_ path: String, headers: HTTPFields = [:]) async throws -> Answer {
    try await call(.get, path, headers: headers)
  }

  private struct ChunkWriter: ResponseBodyWriter {
    let continuation: AsyncStream<[UInt8]>.Continuation
    mutating func write(_ buffer: ByteBuffer) async throws { continuation.yield(Array(buffer.readableBytesView)) }
    consuming func finish(_ trailingHeaders: HTTPFields?) async throws {}
  }
}
