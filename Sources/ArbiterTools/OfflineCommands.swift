import ArbiterCore
import ArbiterDemoBank
import ArbiterFeatureStore
import ArbiterModels
import ArgumentParser
import Foundation

/// Prints a domain error as a CLI message and exits 2.
func failing<T>(_ body: () throws -> T) throws -> T {
  do { return try body() } catch let error as ArbiterError {
    FileHandle.standardError.write(Data("arbiter-tools: \(error.message)\n".utf8))
    throw ExitCode(2)
  }
}

struct Generate: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Build the synthetic demo bank from a seed: customers, catalogue, hidden ground truth, offer history.")

  @Option(help: "Random seed; the same seed gives the same bank.") var seed: UInt64 = 42
  @Option(help: "Number of customers.") var customers = 100_000
  @Option(help: "Output directory.") var out = "demo-data"
  @Flag(help: "Write only customers.csv (for large imports), no history.") var customersOnly = false

  func run() throws {
    guard customers > 0 else { throw ValidationError("--customers must be positive") }
    if customersOnly {
      try DemoDataset.writeCustomers(seed: seed, count: customers, to: out)
      print("\(customers) demo customers (seed \(seed)) written to \(out)/customers.csv")
      return
    }
    let dataset = try failing { try DemoDataset.generate(seed: seed, customers: customers) }
    try dataset.write(to: out)
    let accepted = dataset.history.filter(\.accepted).count
    print("demo bank (seed \(seed)) written to \(out)/")
    print("  customers.csv      \(dataset.customers.count) customers × \(dataset.schema.width) features")
    print("  catalogue.json     \(dataset.catalogue.offers.count) offers")
    let share = String(format: "%.1f", 100 * Double(accepted) / Double(max(1, dataset.history.count)))
    print("  history.csv        \(dataset.history.count) offers made, \(accepted) accepted (\(share)%)")
    print("  ground-truth.json  the hidden response model")
  }
}

struct Train: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Fit a regularised logistic-regression propensity model per offer and export a bundle.")

  @Option(help: "Directory written by `generate`.") var data = "demo-data"
  @Option(help: "Bundle root; the bundle goes to <out>/<version>/.") var out = "models/demo"
  @Option(help: "Bundle name.") var name = "demo"
  @Option(help: "Bundle version.") var version = "1"

  func run() throws {
    let dataset = try failing { try DemoDataset.read(from: data) }
    print("training on \(dataset.history.count) history rows, \(dataset.customers.count) customers")
    print("offer                         rows  accepted  terms  train AUC  hold-out AUC")
    let bundle = try failing {
      try dataset.trainBundle(name: name, version: version) { report in
        let m = report.metrics
        let id = report.offerId.padding(toLength: 28, withPad: " ", startingAt: 0)
        let columns = String(
          format: "%6d  %8d  %5d  %9.3f  %12.3f", m.trainRows + m.holdoutRows, m.trainPositives + m.holdoutPositives,
          report.terms, m.trainAUC, m.holdoutAUC)
        print("\(id) \(columns)")
      }
    }
    let directory = try bundle.write(toRoot: out)
    let aucs = bundle.models.models.map(\.metrics.holdoutAUC)
    print("mean hold-out AUC \(String(format: "%.3f", aucs.reduce(0, +) / Double(aucs.count)))")
    print("bundle \(name)/\(version) written to \(directory) (schema \(bundle.manifest.schemaHash.prefix(12)))")
  }
}

struct Import: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Bulk-load customers from CSV into a feature store directory, then snapshot it.",
    discussion: """
      The CSV has a header row with customer_id, optionally display_name, and a column per feature of the \
      bundle's schema (any order; empty cells are missing). Values are as of the export (days since, flags, \
      trends) and are stored as of --as-of. Rejected rows are counted and reported with line and column; \
      the command then exits with status 3. Stop the server using the store first (the store is locked).
      """)

  @Option(help: "CSV file.") var csv: String
  @Option(help: "Feature store directory.") var store = "arbiter-data/store"
  @Option(help: "Bundle whose schema the store uses.") var bundle = "models/demo"
  @Option(help: "Moment the exported values describe, in days since 1970 ('now' by default).") var asOf = "now"

  func run() throws {
    let loaded = try failing { try ModelBundle.load(from: bundle) }
    let asOfDays: Double
    if asOf == "now" {
      asOfDays = FeatureStore.nowDays
    } else {
      guard let days = Double(asOf) else {
        throw ValidationError("--as-of must be 'now' or a number of days since 1970")
      }
      asOfDays = days
    }
    let target = try failing { try FeatureStore.open(directory: store, schema: loaded.schema, policy: .always) }
    defer { target.close() }
    let report = try failing { try CSVImporter.importFile(path: csv, into: target, asOfDays: asOfDays, logged: false) }
    print("imported \(report)")
    for error in report.errors { print("  rejected: \(error)") }
    if report.rejected > report.errors.count {
      print("  … and \(report.rejected - report.errors.count) more rejected rows")
    }
    let snapshot = try failing { try target.writeSnapshot() }
    print(
      "snapshot \(snapshot.path): \(snapshot.rows) customers, \(snapshot.bytes / 1_048_576) MiB "
        + "in \(String(format: "%.1f", snapshot.seconds)) s"
    )
    if report.rejected > 0 { throw ExitCode(3) }
  }
}
