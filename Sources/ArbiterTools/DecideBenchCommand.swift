import ArbiterAccess
import ArbiterCore
import ArbiterDecisioning
import ArbiterDemoBank
import ArbiterServer
import ArgumentParser
import Foundation
import Logging
import Synchronization

/// The decision work of one `Decide` without any transport: the server's own state (bundle,
/// stored customers, interaction log) decided on in a loop on one thread, as a handler does it,
/// and its stages timed apart (see BENCHMARKS.md).
struct DecideBench: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "decide-bench",
    abstract: "Time the decision work of Decide (no transport), whole and by stage, on one thread.")

  @Option(help: "Bundle directory.") var bundle = "models/demo"
  @Option(help: "Feature store directory (as the server's --store).") var store: String
  @Option(help: "Interaction log file ('none' keeps it in memory).") var interactionLog = "none"
  @Option(help: "Customers are drawn uniformly from [first, first + customers).") var firstCustomer: UInt64 = 100_000
  @Option(help: "How many customers to draw from.") var customers: UInt64 = 1_000_000
  @Option(help: "Offers per decision.") var offers = 5
  @Option(help: "Timed decisions per stage.") var requests = 200_000
  @Option(help: "Threads deciding at once in a last run of the whole Decide (as the server's event loops do).")
  var threads = 2
  @Option(
    help: "Outcomes per RecordOutcomes batch in the outcome stage, timed with Decide on another thread (0: skip).")
  var outcomeBatch = 10_000

  func run() throws {
    var configuration = ArbiterConfiguration()
    // No door is served: no credentials are made or checked.
    configuration.access = AccessConfiguration(required: false)
    configuration.bundle.path = bundle
    configuration.store.directory = store
    configuration.interactionLog.path = interactionLog == "none" ? nil : interactionLog
    configuration.lean.port = nil
    let server = try failing {
      try ArbiterServer(
        configuration: configuration, logger: Logger(label: "decide-bench"),
        seedingEmptyStore: { [configuration] store, bundle throws(ArbiterError) in
          try DemoPopulation.seed(
            store, bundle: bundle, customers: configuration.store.customers, nowDays: configuration.clock())
        })
    }
    let live = server.live
    // The stages on one thread draw from the first half of the customers, the run on several
    // threads from the second: every stage decides for customers with no contact history from
    // an earlier stage (which would hold offers back and make decisions cheaper).
    var random = SeededGenerator(seed: 42)
    let half = max(1, customers / 2)
    func request() -> DecisionRequest {
      DecisionRequest(customerId: firstCustomer + random.next() % half, channel: .web, maxOffers: offers)
    }
    let engine = live.snapshot.engine
    func report(_ stage: String, _ samples: [UInt64]) { print("\(stage): \(LatencySamples.summary(samples))") }
    func timed(_ body: () -> Void) -> [UInt64] { LatencySamples.time(requests, warmUp: 1_000, body) }
    // The engine's decisions, kept (a ring of 4,096) for the logging stage.
    var decisions: [Decision] = []
    decisions.reserveCapacity(4_096)
    var made = 0
    let whole = timed { _ = try? live.decide(request()) }
    report("Decide as a handler runs it (id, history, engine, log)", whole)
    let contacts = timed { _ = live.log.contacts(customerId: request().customerId, limit: live.log.historyPerCustomer) }
    report("  the customer's contacts from the log", contacts)
    let decide = timed {
      if let decision = try? engine.decide(request(), decisionId: "d-bench", contacts: []) {
        if decisions.count < 4_096 { decisions.append(decision) } else { decisions[made % 4_096] = decision }
        made += 1
      }
    }
    report("  the engine's decision (eligibility, scoring, ranking, reasons, treatments)", decide)
    var next = 0
    let record = timed {
      live.log.record(decisions[next % decisions.count])
      next += 1
    }
    report("  logging it (rings and JSON line)", record)
    if outcomeBatch > 0 { try outcomeStage(live) }
    guard threads > 1 else { return }
    // The same work on several threads at once: what sharing the catalogue, the log and the
    // cores costs each decision.
    let perThread = requests / threads
    let started = DispatchTime.now().uptimeNanoseconds
    let means = [Double](unsafeUninitializedCapacity: threads) { buffer, count in
      nonisolated(unsafe) let base = buffer.baseAddress!
      DispatchQueue.concurrentPerform(iterations: threads) { t in
        var random = SeededGenerator(seed: 1_000 + UInt64(t))
        let start = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<perThread {
          _ = try? live.decide(
            DecisionRequest(
              customerId: firstCustomer + half + random.next() % (customers - half), channel: .web, maxOffers: offers))
        }
        (base + t).initialize(to: Double(DispatchTime.now().uptimeNanoseconds - start) / Double(perThread) / 1000)
      }
      count = threads
    }
    let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
    print(
      String(
        format: "Decide on %d threads at once: %.0f decisions/s, %@ µs per decision per thread", threads,
        Double(perThread * threads) / seconds,
        means.map { String(format: "%.2f", $0) }.joined(separator: ", ")))
  }

  /// Three batches of `outcomeBatch` declines, each with a 200-byte reason, recorded one batch a
  /// call (as RecordOutcomes does) while another thread decides: the batch's time, and what it
  /// costs the decisions made meanwhile.
  private func outcomeStage(_ live: LiveState) throws {
    let reason = String(repeating: "too expensive for now; ", count: 9).prefix(200)
    var random = SeededGenerator(seed: 7)
    for batch in 1...3 {
      var reports: [OutcomeReport] = []
      while reports.count < outcomeBatch {
        let customer = firstCustomer + customers / 2 + random.next() % max(1, customers / 2)
        guard let decision = try? live.decide(DecisionRequest(customerId: customer, channel: .web, maxOffers: offers)),
          let offer = decision.offers.first
        else { continue }
        reports.append(
          OutcomeReport(
            decisionId: decision.decisionId, offerId: offer.offerId, outcome: .decline, declineReason: String(reason)))
      }
      let done = Atomic<Bool>(false)
      let samples = Mutex<[UInt64]>([])
      let other = Thread {
        var mine: [UInt64] = []
        var random = SeededGenerator(seed: 99)
        while !done.load(ordering: .relaxed) {
          let start = DispatchTime.now().uptimeNanoseconds
          _ = try? live.decide(
            DecisionRequest(
              customerId: firstCustomer + random.next() % max(1, customers / 2), channel: .web, maxOffers: offers))
          mine.append(DispatchTime.now().uptimeNanoseconds - start)
        }
        samples.withLock { $0 = mine }
      }
      other.start()
      Thread.sleep(forTimeInterval: 0.05)
      let start = DispatchTime.now().uptimeNanoseconds
      _ = try failing { try live.log.record(reports) }
      let took = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
      Thread.sleep(forTimeInterval: 0.05)
      done.store(true, ordering: .relaxed)
      while samples.withLock({ $0.isEmpty }) { Thread.sleep(forTimeInterval: 0.01) }
      let meanwhile = samples.withLock { $0 }
      let held = live.log.declineReasonsHeld
      print(
        String(
          format:
            "RecordOutcomes batch %d of %d declines with reasons: %.1f ms; "
            + "Decide on another thread meanwhile: %@, worst %.0f µs (%d decisions); reasons held %d (%d bytes)",
          batch, reports.count, took, LatencySamples.summary(meanwhile), Double(meanwhile.max() ?? 0) / 1000,
          meanwhile.count, held.count,
          held.bytes))
    }
  }
}
