import ArbiterCore

/// How the HTTP/JSON door is set up (docs/http-api.md).
public struct HTTPDoorConfiguration: Sendable {
  /// Port; 0 picks a free one, nil serves no HTTP door.
  public var port: Int? = 8080
  /// The largest request body accepted, in bytes; larger ones get 413.
  public var maxBodyBytes = 1 << 20
  /// Origins (scheme, host and port, e.g. "https://www.example-bank.com") whose pages may call the
  /// API from a browser; the server's own pages need no entry.
  public var corsOrigins: [String] = []
  /// A directory to serve the pages from instead of the built-in copy (for working on them).
  public var webRoot: String?
  /// How long an agent's console may stay quiet before the event stream sends a ping (which is
  /// also how soon a console gone without a word is noticed, and its call handed on).
  public var eventStreamPing: Duration = .seconds(5)
  /// How many connections the door keeps and how long one may stay silent (an agent's event
  /// stream is not silent: it pings every ``eventStreamPing``).
  public var connections = ConnectionPolicy()

  /// A door on `port`.
  public init(port: Int? = 8080) { self.port = port }
}
