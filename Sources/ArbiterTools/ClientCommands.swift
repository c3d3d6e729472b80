import ArbiterAPI
import ArbiterCore
import ArbiterService
import ArgumentParser
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2

/// Where the server is.
struct ServerOptions: ParsableArguments {
  @Option(help: "Server host.") var host = "127.0.0.1"
  @Option(help: "Server gRPC port.") var port = 50051
  @Option(help: "Deadline per call, in milliseconds.") var timeoutMs = 5_000
  @OptionGroup var credentials: CredentialOptions

  /// Runs `body` with a connected client presenting the credential found; a gRPC error becomes a
  /// one-line message and exit 2.
  func withClient<T: Sendable>(
    _ body: @Sendable (GRPCClient<HTTP2ClientTransport.Posix>) async throws -> T
  ) async throws -> T {
    let interceptors = try credentials.interceptors()
    do {
      return try await withGRPCClient(
        transport: .http2NIOPosix(target: .ipv4(address: host, port: port), transportSecurity: .plaintext),
        interceptors: interceptors
      ) { client in try await body(client) }
    } catch let error as RPCError {
      FileHandle.standardError.write(Data("arbiter-tools: \(error.code): \(error.message)\n".utf8))
      throw ExitCode(2)
    }
  }

  var callOptions: CallOptions {
    var options = CallOptions.defaults
    options.timeout = .milliseconds(Int64(timeoutMs))
    return options
  }
}

/// Parses a channel name as the command line spells it.
func parseChannel(_ name: String) throws -> Arbiter_V1_Channel {
  guard let channel = Channel(name: name) else {
    throw ValidationError("unknown channel '\(name)'; one of: \(Channel.allCases.map(\.name).joined(separator: ", "))")
  }
  return channel.proto
}

struct Decide: AsyncParsableCommand {
  static let configuration = CommandConfiguration(abstract: "Ask a running server which offers to make to a customer.")

  @OptionGroup var server: ServerOptions
  @Option(help: "Customer id.") var customer: UInt64
  @Option(help: "Channel: web, mobile-app, contact-centre, branch, atm, email, sms.") var channel = "contact-centre"
  @Option(help: "Why the customer called, e.g. travel, mortgage-enquiry, complaint.") var reason = ""
  @Option(help: "Page or screen, e.g. cards, savings, mortgages.") var page = ""
  @Option(help: "How many offers.") var max: UInt32 = 3
  @Flag(help: "Also list every offer not made, with the reason.") var explain = false

  func run() async throws {
    let wireChannel = try parseChannel(channel)
    let customerId = customer
    let request = Arbiter_V1_DecideRequest.with {
      $0.customerID = customerId
      $0.channel = wireChannel
      $0.context = .with {
        $0.callReason = reason
        $0.page = page
      }
      $0.maxOffers = max
      $0.explain = explain
    }
    let options = server.callOptions
    let (response, profile) = try await server.withClient { client in
      let response = try await Arbiter_V1_DecisionService.Client(wrapping: client).decide(request, options: options)
      let profile = try await Arbiter_V1_ProfileService.Client(wrapping: client).getProfile(
        .with { $0.customerID = customerId }, options: options)
      return (response, profile)
    }
    print(DecisionPrinter.render(response, profile: profile))
  }
}

struct Profile: AsyncParsableCommand {
  static let configuration = CommandConfiguration(abstract: "Show a customer as the agent screen sees them.")

  @OptionGroup var server: ServerOptions
  @Option(help: "Customer id.") var customer: UInt64
  @Flag(help: "Also print every feature value.") var features = false

  func run() async throws {
    let options = server.callOptions
    let customerId = customer
    let profile = try await server.withClient { client in
      try await Arbiter_V1_ProfileService.Client(wrapping: client).getProfile(
        .with { $0.customerID = customerId }, options: options)
    }
    print(DecisionPrinter.render(profile, features: features))
  }
}

struct Outcome: AsyncParsableCommand {
  static let configuration = CommandConfiguration(abstract: "Report what a customer did with an offer.")

  @OptionGroup var server: ServerOptions
  @Option(help: "Decision id from `decide`.") var decision: String
  @Option(help: "Offer id.") var offer: String
  @Option(help: "impression, click, accept, decline or convert.") var outcome: String
  @Option(help: "Why the customer declined.") var declineReason = ""

  func run() async throws {
    let kinds: [String: Arbiter_V1_Outcome] = [
      "impression": .impression, "click": .click, "accept": .accept, "decline": .decline, "convert": .convert,
    ]
    guard let kind = kinds[outcome] else {
      throw ValidationError("unknown outcome '\(outcome)'; one of: impression, click, accept, decline, convert")
    }
    let request = Arbiter_V1_RecordOutcomesRequest.with {
      $0.outcomes = [
        .with {
          $0.decisionID = decision
          $0.offerID = offer
          $0.outcome = kind
          $0.declineReason = declineReason
        }
      ]
    }
    let options = server.callOptions
    let response = try await server.withClient { client in
      try await Arbiter_V1_DecisionService.Client(wrapping: client).recordOutcomes(request, options: options)
    }
    print("recorded \(response.recorded) outcome")
  }
}

struct Status: AsyncParsableCommand {
  static let configuration = CommandConfiguration(abstract: "Which bundle, catalogue and models a server is running.")

  @OptionGroup var server: ServerOptions

  func run() async throws {
    let options = server.callOptions
    let status = try await server.withClient { client in
      try await Arbiter_V1_AdminService.Client(wrapping: client).getStatus(.init(), options: options)
    }
    let v = status.versions
    print("bundle \(v.bundleName)/\(v.bundleVersion) from \(status.bundlePath)")
    print(
      "catalogue \(v.catalogueVersion), schema \(v.schemaHash.prefix(12)), "
        + "\(status.offers) offers, \(status.customers) customers"
    )
    print("decisions served \(status.decisionsServed), outcomes recorded \(status.outcomesRecorded)")
    for model in status.models {
      let offer = model.offerID.padding(toLength: 28, withPad: " ", startingAt: 0)
      print("  \(offer) \(model.kind) \(model.terms) terms, hold-out AUC \(String(format: "%.3f", model.holdoutAuc))")
    }
  }
}

struct Reload: AsyncParsableCommand {
  static let configuration = CommandConfiguration(abstract: "Make a server load its newest bundle (or the one given).")

  @OptionGroup var server: ServerOptions
  @Option(help: "Bundle directory to load instead of the configured one.") var bundle = ""
  @Flag(
    name: .customLong("require-evaluation"),
    help: "Load only the challenger's bundle, and only if the promotion gate approves it (see promote).")
  var requireEvaluation = false

  func run() async throws {
    let options = server.callOptions
    let path = bundle
    let evaluated = requireEvaluation
    let response = try await server.withClient { client in
      try await Arbiter_V1_AdminService.Client(wrapping: client).reload(
        .with {
          $0.bundlePath = path
          $0.requireEvaluation = evaluated
        }, options: options)
    }
    let (previous, current) = (response.previous, response.current)
    let unchanged = response.changed ? "" : " (unchanged)"
    print(
      "\(previous.bundleName)/\(previous.bundleVersion) → \(current.bundleName)/\(current.bundleVersion)\(unchanged)"
    )
  }
}

struct Promote: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Promote the challenger scoring in the shadow, only if off-policy evaluation of the recent log approves.",
    discussion: """
      The server reads the end of its interaction log: the champion's decisions with the challenger's shadow \\
      decisions for the same requests. The challenger goes live only if its doubly robust lower bound beats the \\
      champion's value by the configured margin (promotion: in the configuration file). A refusal says why, with \\
      the numbers; --dry-run only shows the verdict.
      """)

  @OptionGroup var server: ServerOptions
  @Flag(name: .customLong("dry-run"), help: "Only judge; change nothing.") var dryRun = false
  @Option(help: "A margin stricter than the configured one, for this call.") var margin = 0.0

  func run() async throws {
    var options = server.callOptions
    options.timeout = .seconds(max(120, Int64(server.timeoutMs / 1000)))
    let callOptions = options
    let request = Arbiter_V1_PromoteRequest.with {
      $0.dryRun = dryRun
      $0.margin = margin
    }
    let verdict = try await server.withClient { client in
      try await Arbiter_V1_AdminService.Client(wrapping: client).promote(request, options: callOptions)
    }
    print(verdict.reason)
    for warning in verdict.warnings { print("  ! \(warning)") }
    print(verdict.promoted ? "\(verdict.challenger) is live" : "nothing changed (dry run)")
  }
}

struct Outbound: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract:
      "Select an outbound campaign on a running server: who gets which offer through a channel under a budget and "
      + "capacity."
  )

  @OptionGroup var server: ServerOptions
  @Option(help: "Channel: email, sms, contact-centre (outbound calls), ...") var channel = "email"
  @Option(help: "Total contact cost allowed.") var budget: Double?
  @Option(help: "Contacts allowed.") var capacity: UInt32?
  @Option(help: "Offers the campaign may make (comma-separated ids; default any).") var offers = ""
  @Option(
    help: "Write every assignment (customer, offer, propensity, expected value, cost, decision id) to this CSV file.")
  var csv: String?

  func run() async throws {
    let wireChannel = try parseChannel(channel)
    let request = Arbiter_V1_SelectOutboundRequest.with {
      $0.channel = wireChannel
      if let budget { $0.budget = budget }
      if let capacity { $0.capacity = capacity }
      $0.offerIds = offers.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
      $0.includeAssignments = csv != nil
    }
    var callOptions = server.callOptions
    callOptions.timeout = .seconds(max(60, Int64(server.timeoutMs / 1000)))
    let options = callOptions
    let response = try await server.withClient { client in
      try await Arbiter_V1_DecisionService.Client(wrapping: client).selectOutbound(request, options: options)
    }
    print(
      "\(response.selected) of \(response.considered) customers selected "
        + "(\(response.candidates) had an offer worth the contact); stopped by \(response.stoppedBy)"
    )
    print(
      String(
        format: "expected responses %.1f, expected value %.0f, cost %.0f, net %.0f", response.expectedResponses,
        response.expectedValue, response.totalCost, response.expectedValue - response.totalCost))
    for entry in response.perOffer {
      let offer = entry.offerID.padding(toLength: 28, withPad: " ", startingAt: 0)
      print("  \(offer) \(String(format: "%7d contacts, expected value %10.0f", entry.count, entry.expectedValue))")
    }
    if let csv {
      var text = "customer_id,offer_id,propensity,expected_value,cost,decision_id\n"
      for a in response.assignments {
        text += "\(a.customerID),\(a.offerID),\(a.propensity),\(a.expectedValue),\(a.cost),\(a.decisionID)\n"
      }
      try text.write(toFile: csv, atomically: true, encoding: .utf8)
      print("assignments written to \(csv)")
    }
  }
}
