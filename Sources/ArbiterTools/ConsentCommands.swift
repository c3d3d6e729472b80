import ArbiterAPI
import ArbiterCore
import ArbiterService
import ArgumentParser
import Foundation
import GRPCCore

/// `arbiter-tools import-consents`: consents from a CSV file, recorded by a running server.
struct ImportConsents: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "import-consents",
    abstract: "Record the consents of a CSV file (customer_id, channel, purpose, state[, timestamp][, source]).",
    discussion: """
      Every row is checked first (a problem is refused naming its line and column, and nothing is
      sent); the changes then go to the server's RecordConsents in batches, each durable before
      the next. Rows the server refuses (an unknown customer, a consent older than the one it
      holds) are listed, and the command exits 1 if there were any.
      """)

  @OptionGroup var server: ServerOptions
  @Argument(help: "The CSV file.") var file: String
  @Option(help: "Source for rows that give none (default: csv:<file name>).") var source: String?
  @Option(help: "Changes per call.") var batch = 10_000

  func validate() throws {
    guard (1...ConsentBatches.maxChanges).contains(batch) else {
      throw ValidationError("--batch must be between 1 and \(ConsentBatches.maxChanges)")
    }
  }

  func run() async throws {
    let path = file
    let parsed = try failing { try Self.read(path, defaultSource: source) }
    let (changes, lines) = (parsed.changes, parsed.lines)
    let requests = stride(from: 0, to: changes.count, by: batch).map { start in
      Arbiter_V1_RecordConsentsRequest.with {
        $0.changes = changes[start..<min(changes.count, start + batch)].map(\.proto)
      }
    }
    let options = server.callOptions
    let (recorded, rejected, errors) = try await server.withClient { client in
      let profiles = Arbiter_V1_ProfileService.Client(wrapping: client)
      var recorded = 0, rejected = 0, offset = 0
      var errors: [String] = []
      for request in requests {
        let response = try await profiles.recordConsents(request, options: options)
        recorded += Int(response.recorded)
        rejected += Int(response.rejected)
        // Each call numbers its changes from 0: name them by their line in the file.
        let first = offset
        errors += response.errors.map { error in
          Self.renamed(error) { index in
            lines.indices.contains(first + index) ? "\(path):\(lines[first + index])" : "changes[\(first + index)]"
          }
        }
        offset += request.changes.count
      }
      return (recorded, rejected, errors)
    }
    print("\(recorded) consent change(s) recorded, \(rejected) refused (\(changes.count) row(s) in \(path))")
    for error in errors { print("  \(error)") }
    if rejected > 0 { throw ExitCode(1) }
  }
}

extension ImportConsents {
  /// `error` (which names a change of its batch as `changes[i]`) with `changes[i]` replaced by
  /// `name(i)`: the file and line the change came from.
  static func renamed(_ error: String, name: (Int) -> String) -> String {
    guard error.hasPrefix("changes["), let close = error.firstIndex(of: "]"),
      let index = Int(error[error.index(error.startIndex, offsetBy: 8)..<close])
    else { return error }
    return name(index) + error[error.index(after: close)...]
  }

  /// A file's changes, and the line each came from.
  struct Parsed {
    var changes: [ConsentChange]
    var lines: [Int]
  }

  /// Reads and checks the CSV file at `path` (a row without a source gets `defaultSource`, or
  /// `csv:<file name>`).
  static func read(_ path: String, defaultSource: String?) throws(ArbiterError) -> Parsed {
    guard let data = FileManager.default.contents(atPath: path) else {
      throw ArbiterError(.notFound, "cannot read '\(path)'")
    }
    let table = try CSVTable(text: String(decoding: data, as: UTF8.self), file: path)
    let changes = try ConsentCSV.changes(
      in: table, file: path, defaultSource: defaultSource ?? "csv:\((path as NSString).lastPathComponent)",
      nowMillis: Int64(Date().timeIntervalSince1970 * 1_000))
    return Parsed(changes: changes, lines: table.lineNumbers)
  }
}

extension ConsentChange {
  /// The wire change.
  var proto: Arbiter_V1_ConsentChange {
    .with {
      $0.customerID = customerId
      $0.channel = record.channel.proto
      $0.purpose = record.purpose.proto
      $0.state = record.state.proto
      $0.timestampMillis = record.timestampMillis
      $0.source = record.source
    }
  }
}

/// `arbiter-tools erase`: a customer erased on request.
struct Erase: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Erase a customer on request: profile and consents removed, their log lines made anonymous.")

  @OptionGroup var server: ServerOptions
  @Argument(help: "The customer's id.") var customer: UInt64
  @Option(help: "Your reference for the request (e.g. a case number), kept in the audit log.") var reference = ""

  func run() async throws {
    let options = server.callOptions
    let (id, reference) = (customer, self.reference)
    let response = try await server.withClient { client in
      try await Arbiter_V1_AdminService.Client(wrapping: client).eraseCustomer(
        .with {
          $0.customerID = id
          $0.reference = reference
        }, options: options)
    }
    print(
      "\(response.erasureID): profile \(response.profileRemoved ? "removed" : "was not held"), "
        + "\(response.consentsRemoved) consent(s) removed, \(response.logLinesAnonymised) log line(s) and "
        + "\(response.historyEntriesRemoved) history entr(ies) made anonymous")
  }
}
