import ArbiterCore
import ArbiterDemoBank
import ArbiterFeatureStore
import Foundation
import Testing

@Suite struct CSVImportTests {
  @Test func importsValidRowsAndReportsEachBadOneByLineAndColumn() throws {
    let header =
      "customer_id,display_name,"
      + eventSchema.customerFeatures.filter { !CompiledDerivations.isInternalState($0) }.map(\.name).joined(
        separator: ",") + ",shoe_size\n"
    // Columns after the name: age, balance, txn_count_30d, card_spend_30d, atm_count, days_since_txn, churn_risk,
    // balance_trend, calls, shoe_size
    let text =
      header
      + "1,\"Silva, Ana\",40,1000,3,50,1,2.5,0,0.1,2,44\n"
      + "2,Bruno,41,,,,,,,,,\n"
      + "3,Carla,abc,1,1,1,1,1,1,1,1,1\n"
      + "0,Zero,1,1,1,1,1,1,1,1,1,1\n"
      + "4,Dora,1,1\n"
      + "5,\"Eva \"\"E\"\"\",42,7,0,0,0,1,1,0,0,0\r\n"
    let path = try TestSupport.temporaryDirectory() + "/customers.csv"
    try Data(text.utf8).write(to: URL(fileURLWithPath: path))
    let store = try FeatureStore(schema: eventSchema)
    let report = try CSVImporter.importFile(path: path, into: store, asOfDays: 20_000)
    #expect(report.rows == 6)
    #expect(report.inserted == 3)
    #expect(report.rejected == 3)
    #expect(report.ignoredColumns == ["shoe_size"])
    #expect(
      report.errors == [
        "\(path):4: column age: 'abc' is not a number",
        "\(path):5: column customer_id: '0' is not a customer id",
        "\(path):6: 4 columns, the header has 12",
      ])
    #expect(store.displayName(row: store.row(of: 1)!) == "Silva, Ana")
    #expect(store.displayName(row: store.row(of: 5)!) == "Eva \"E\"")
    let ana = readAt(store, 1, days: 20_000)
    #expect(ana[0] == 40 && ana[2] == 1_000 && ana[3] == 3 && ana[4] == 50)
    #expect(abs(ana[6] - 2.5) < 0.01)  // days since the last transaction, as exported
    #expect(ana[7] == 0)  // churn risk flag
    #expect(abs(ana[9] - 0.1) < 1e-4)  // balance trend, as exported
    let bruno = stored(store, 2)
    #expect(bruno[0] == 41 && bruno[2].isNaN)  // empty cells are missing
  }

  @Test func demoCustomersRoundTripThroughCSV() throws {
    let directory = try TestSupport.temporaryDirectory()
    try DemoDataset.writeCustomers(seed: 42, count: 5_000, to: directory)
    let store = try FeatureStore(schema: DemoBankSchema.schema)
    let report = try CSVImporter.importFile(path: directory + "/customers.csv", into: store, asOfDays: 20_412)
    #expect(report.inserted == 5_000 && report.rejected == 0 && report.ignoredColumns.isEmpty)
    let generated = DemoPopulation(seed: 42).customer(number: 1_234)
    var read = [Float](repeating: 0, count: store.width)
    read.withUnsafeMutableBufferPointer { store.read(row: store.row(of: generated.id)!, into: $0, nowDays: 20_412) }
    for (i, feature) in DemoBankSchema.schema.customerFeatures.enumerated()
    where !CompiledDerivations.isInternalState(feature) {
      if feature.derive?.kind == .recency {
        #expect(abs(read[i] - generated.values[i]) < 0.01, "\(feature.name)")
      } else if feature.derive?.kind == .trend {
        #expect(abs(read[i] - generated.values[i]) < 1e-4, "\(feature.name)")
      } else {
        #expect(read[i] == generated.values[i], "\(feature.name): \(read[i]) vs \(generated.values[i])")
      }
    }
    #expect(store.displayName(row: store.row(of: generated.id)!) == generated.displayName)
  }
}
