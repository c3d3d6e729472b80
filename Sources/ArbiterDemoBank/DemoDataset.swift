import ArbiterCore
import ArbiterModels
import Foundation

/// The demo bank as files, the way a warehouse export looks: `customers.csv`, `history.csv`,
/// `catalogue.json`, `schema.json`, `ground-truth.json` and `population.json` (the seed).
public struct DemoDataset: Sendable {
  /// The generator, seed and customer count the dataset was made from (`population.json`).
  public var population: PopulationSpec
  /// The feature schema of the customers (`schema.json`).
  public var schema: FeatureSchema
  /// The offer catalogue (`catalogue.json`).
  public var catalogue: CatalogueDocument
  /// The hidden response model the history was drawn from (`ground-truth.json`).
  public var truth: GroundTruth
  /// The customers (`customers.csv`).
  public var customers: [CustomerRecord]
  /// The randomised offer history the models are trained on (`history.csv`).
  public var history: [HistoryRecord]

  /// Builds the whole demo bank from a seed.
  public static func generate(seed: UInt64, customers count: Int) throws(ArbiterError) -> DemoDataset {
    let population = DemoPopulation(seed: seed)
    let customers = population.customers(count: count)
    let catalogue = DemoBankCatalogue.document
    let truth = DemoBankCatalogue.groundTruth
    let history = try DemoHistory(seed: seed).generate(
      customers: customers, catalogue: catalogue, truth: truth, schema: population.schema)
    return DemoDataset(
      population: PopulationSpec(generator: DemoPopulation.generatorName, seed: seed, customers: count),
      schema: population.schema, catalogue: catalogue, truth: truth, customers: customers, history: history)
  }

  /// Writes `count` demo customers to `directory/customers.csv` in bounded memory.
  public static func writeCustomers(seed: UInt64, count: Int, to directory: String) throws {
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    let path = (directory as NSString).appendingPathComponent("customers.csv")
    FileManager.default.createFile(atPath: path, contents: nil)
    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
    defer { try? handle.close() }
    let population = DemoPopulation(seed: seed)
    try handle.write(contentsOf: Data(customerHeader(population.schema).utf8))
    var start = 0
    while start < count {
      let end = min(count, start + 100_000)
      var text = ""
      for i in start..<end { appendCustomer(population.customer(number: i), to: &text) }
      try handle.write(contentsOf: Data(text.utf8))
      start = end
    }
  }

  static func customerHeader(_ schema: FeatureSchema) -> String {
    "customer_id,display_name," + schema.customerFeatures.map(\.name).joined(separator: ",") + "\n"
  }

  static func appendCustomer(_ customer: CustomerRecord, to text: inout String) {
    text += "\(customer.id),\(quoted(customer.displayName))"
    for value in customer.values { text += value.isNaN ? "," : ",\(value)" }
    text += "\n"
  }

  /// Writes every file of the dataset into `directory`, creating it if needed; throws on a file that cannot be written.
  public func write(to directory: String) throws {
    let fm = FileManager.default
    try fm.createDirectory(atPath: directory, withIntermediateDirectories: true)
    func path(_ name: String) -> URL { URL(fileURLWithPath: (directory as NSString).appendingPathComponent(name)) }
    try CanonicalJSON.encode(population).write(to: path("population.json"))
    try CanonicalJSON.encode(schema).write(to: path("schema.json"))
    try CanonicalJSON.encode(catalogue).write(to: path("catalogue.json"))
    try CanonicalJSON.encode(truth).write(to: path("ground-truth.json"))

    var text = Self.customerHeader(schema)
    for customer in customers { Self.appendCustomer(customer, to: &text) }
    try Data(text.utf8).write(to: path("customers.csv"))
    var history = "customer_id,offer_id,channel,probability,accepted\n"
    for record in self.history {
      history +=
        "\(record.customerId),\(record.offerId),\(record.channel.name),\(record.probability),"
        + "\(record.accepted ? 1 : 0)\n"
    }
    try Data(history.utf8).write(to: path("history.csv"))
  }

  /// Reads a dataset written by ``write(to:)`` (or exported in the same layout). Errors name the
  /// file, line and column.
  public static func read(from directory: String) throws(ArbiterError) -> DemoDataset {
    func path(_ name: String) -> String { (directory as NSString).appendingPathComponent(name) }
    func data(_ name: String) throws(ArbiterError) -> Data {
      guard let data = FileManager.default.contents(atPath: path(name)) else {
        throw ArbiterError(.notFound, "\(path(name)) is missing (run `arbiter-tools generate` first)")
      }
      return data
    }
    let population = try CanonicalJSON.decode(
      PopulationSpec.self, from: try data("population.json"), file: path("population.json"))
    let schema = try CanonicalJSON.decode(FeatureSchema.self, from: try data("schema.json"), file: path("schema.json"))
    try schema.validate()
    let catalogue = try CanonicalJSON.decode(
      CatalogueDocument.self, from: try data("catalogue.json"), file: path("catalogue.json"))
    let truth = try CanonicalJSON.decode(
      GroundTruth.self, from: try data("ground-truth.json"), file: path("ground-truth.json"))

    let customerFile = path("customers.csv")
    let table = try CSVTable(text: String(decoding: try data("customers.csv"), as: UTF8.self), file: customerFile)
    let idColumn = try table.column("customer_id", file: customerFile)
    let nameColumn = try table.column("display_name", file: customerFile)
    var featureColumns: [Int] = []
    for feature in schema.customerFeatures { featureColumns.append(try table.column(feature.name, file: customerFile)) }
    var customers: [CustomerRecord] = []
    customers.reserveCapacity(table.rows.count)
    for (r, row) in table.rows.enumerated() {
      let line = table.lineNumbers[r]
      guard let id = UInt64(row[idColumn]), id != 0 else {
        throw ArbiterError(
          .invalidArgument, "\(customerFile):\(line): column customer_id: '\(row[idColumn])' is not a customer id")
      }
      var values = [Float](repeating: .nan, count: schema.width)
      for (f, column) in featureColumns.enumerated() where !row[column].isEmpty {
        guard let value = Float(row[column]), value.isFinite else {
          throw ArbiterError(
            .invalidArgument,
            "\(customerFile):\(line): column \(schema.customerFeatures[f].name): '\(row[column])' is not a number")
        }
        values[f] = value
      }
      customers.append(CustomerRecord(id: id, displayName: row[nameColumn], values: values))
    }

    let historyFile = path("history.csv")
    let historyTable = try CSVTable(text: String(decoding: try data("history.csv"), as: UTF8.self), file: historyFile)
    let columns = try ["customer_id", "offer_id", "channel", "probability", "accepted"].map {
      name throws(ArbiterError) in
      try historyTable.column(name, file: historyFile)
    }
    var history: [HistoryRecord] = []
    history.reserveCapacity(historyTable.rows.count)
    for (r, row) in historyTable.rows.enumerated() {
      let line = historyTable.lineNumbers[r]
      guard let id = UInt64(row[columns[0]]) else {
        throw ArbiterError(
          .invalidArgument, "\(historyFile):\(line): column customer_id: '\(row[columns[0]])' is not a customer id")
      }
      guard let channel = Channel(name: row[columns[2]]) else {
        throw ArbiterError(
          .invalidArgument, "\(historyFile):\(line): column channel: unknown channel '\(row[columns[2]])'")
      }
      guard let probability = Double(row[columns[3]]), probability > 0, probability <= 1 else {
        throw ArbiterError(
          .invalidArgument, "\(historyFile):\(line): column probability: '\(row[columns[3]])' is not in (0, 1]")
      }
      guard let accepted = ["0": false, "1": true][row[columns[4]]] else {
        throw ArbiterError(
          .invalidArgument, "\(historyFile):\(line): column accepted: '\(row[columns[4]])' is not 0 or 1")
      }
      history.append(
        HistoryRecord(
          customerId: id, offerId: row[columns[1]], channel: channel, probability: probability, accepted: accepted))
    }
    return DemoDataset(
      population: population, schema: schema, catalogue: catalogue, truth: truth, customers: customers, history: history
    )
  }

  /// Trains the bundle `models/<name>/<version>` from this dataset.
  public func trainBundle(
    name: String, version: String, progress: (BundleTrainer.Report) -> Void = { _ in }
  ) throws -> ModelBundle {
    let store = try CustomerStore(schema: schema, records: customers)
    let models = try BundleTrainer().train(
      schema: schema, catalogue: catalogue, customers: store, history: history, progress: progress)
    return try ModelBundle(
      name: name, version: version, createdBy: "arbiter-tools train", schema: schema, catalogue: catalogue,
      models: models,
      population: population)
  }

  static func quoted(_ text: String) -> String {
    guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) else { return text }
    return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
  }
}
