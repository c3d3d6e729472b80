import ArbiterAPI
import ArbiterCore
import ArbiterDemoBank
import ArbiterFeatureStore
import ArbiterServer
import ArbiterService
import Foundation
import GRPCCore
import Testing

/// Values outside a feature's declared range (a negative age, an income of -1e9) are refused by
/// UpsertProfiles and by CSV import, naming the customer, the feature and the value.
@Suite struct FeatureRangeTests {
  @Test func upsertProfilesRefusesImpossibleValues() async throws {
    let server = try TestSupport.makeServer()
    let schema = server.store.schema
    try await withInProcessClient(server) { client in
      let profiles = Arbiter_V1_ProfileService.Client(wrapping: client)
      let original = try await profiles.getProfile(.with { $0.customerID = 100_042 })
      func changed(_ id: UInt64, _ name: String, _ value: Double) -> Arbiter_V1_ProfileRecord {
        var values = original.featureValues
        values[schema.customerIndex(of: name)!] = value
        return .with {
          $0.customerID = id; $0.displayName = original.displayName; $0.featureValues = values
        }
      }
      let response = try await profiles.upsertProfiles(
        .with {
          $0.profiles = [
            changed(100_042, "age", -3), changed(9_200_001, "income", -1e9),
            changed(9_200_002, "savings_balance", -1e9),
            changed(9_200_003, "age", 41),
          ]
        })
      #expect(response.inserted == 1 && response.updated == 0 && response.rejected == 3)
      #expect(
        response.errors == [
          "profiles[0] (customer 100042): age = -3 is below its minimum 18",
          "profiles[1] (customer 9200001): income = -1000000000 is below its minimum 0",
          "profiles[2] (customer 9200002): savings_balance = -1000000000 is below its minimum 0",
        ])
      let after = try await profiles.getProfile(.with { $0.customerID = 100_042 })
      #expect(after.featureValues == original.featureValues, "the refused update left the customer as it was")
    }
  }

  @Test func csvImportRefusesImpossibleValuesNamingLineCustomerFeatureAndValue() throws {
    let schema = DemoBankSchema.schema
    let population = DemoPopulation(seed: 42)
    var text = "customer_id,display_name," + schema.customerFeatures.map(\.name).joined(separator: ",") + "\n"
    for number in 0..<4 {
      var customer = population.customer(number: number)
      if number == 1 { customer.values[schema.customerIndex(of: "age")!] = -3 }
      if number == 2 { customer.values[schema.customerIndex(of: "income")!] = -1e9 }
      text += "\(customer.id),Customer \(number)" + customer.values.map { $0.isNaN ? "," : ",\($0)" }.joined() + "\n"
    }
    let path = try TestSupport.temporaryDirectory() + "/customers.csv"
    try Data(text.utf8).write(to: URL(fileURLWithPath: path))
    let store = try FeatureStore(schema: schema)
    let report = try CSVImporter.importFile(path: path, into: store, asOfDays: TestSupport.fixedClockDays)
    #expect(report.inserted == 2 && report.rejected == 2)
    #expect(
      report.errors == [
        "\(path):3: customer 100001: age = -3 is below its minimum 18",
        "\(path):4: customer 100002: income = -1000000000 is below its minimum 0",
      ])
    #expect(store.row(of: 100_001) == nil && store.row(of: 100_000) != nil)
  }
}
