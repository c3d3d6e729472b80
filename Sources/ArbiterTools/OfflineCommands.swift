import ArbiterCore
import ArbiterDemoBank
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

  func run() throws {
    guard customers > 0 else { throw ValidationError("--customers must be positive") }
    let dataset = try failing { try DemoDataset.generate(seed: seed, customers: customers) }
    try dataset.write(to: out)
    let accepted = dataset.history.filter(\.accepted).count
    print("demo bank (seed \(seed)) written to \(out)/")
    print("  customers.csv      \(dataset.customers.count) customers × \(dataset.schema.width) features")
    print("  catalogue.json     \(dataset.catalogue.offers.count) offers")
    print("  history.csv        \(dataset.history.count) offers made, \(accepted) accepted (\(String(format: "%.1f", 100 * Double(accepted) / Double(max(1, dataset.history.count))))%)")
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
        print("\(id) \(String(format: "%6d  %8d  %5d  %9.3f  %12.3f", m.trainRows + m.holdoutRows, m.trainPositives + m.holdoutPositives, report.terms, m.trainAUC, m.holdoutAUC))")
      }
    }
    let directory = try bundle.write(toRoot: out)
    let aucs = bundle.models.models.map(\.metrics.holdoutAUC)
    print("mean hold-out AUC \(String(format: "%.3f", aucs.reduce(0, +) / Double(aucs.count)))")
    print("bundle \(name)/\(version) written to \(directory) (schema \(bundle.manifest.schemaHash.prefix(12)))")
  }
}
