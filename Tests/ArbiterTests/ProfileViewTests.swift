import ArbiterAPI
import ArbiterCore
import ArbiterDecisioning
import ArbiterDemoBank
import ArbiterModels
import ArbiterServer
import ArbiterService
import Foundation
import GRPCCore
import Testing

/// The agent's customer view follows the schema's `profile` entries: no feature name is known
/// to the service, so a bank's own schema (relabelled, other features) shows a full profile.
@Suite struct ProfileViewTests {
  @Test func theProfileShowsWhatTheSchemaSays() async throws {
    let server = try TestSupport.makeServer()
    let schema = server.live.snapshot.engine.schema
    try await withInProcessClient(server) { client in
      let profiles = Arbiter_V1_ProfileService.Client(wrapping: client)
      let profile = try await profiles.getProfile(.with { $0.customerID = 100_042 })
      let shown = schema.customerFeatures.filter { $0.profile != nil && $0.profile?.product == nil }
      #expect(profile.attributes.map(\.feature) == shown.map(\.name))
      #expect(profile.attributes.map(\.label) == shown.map { $0.profile!.label })
      let values = Dictionary(uniqueKeysWithValues: zip(profile.featureNames, profile.featureValues))
      for attribute in profile.attributes {
        #expect(
          attribute.number.bitPattern == values[attribute.feature]!.bitPattern
            || (attribute.number.isNaN && values[attribute.feature]!.isNaN))
      }
      let age = try #require(profile.attributes.first { $0.feature == "age" })
      #expect(age.label == "Age" && age.value == String(Int(values["age"]!)))
      let stage = try #require(profile.attributes.first { $0.feature == "life_stage" })
      #expect(DemoBankSchema.lifeStages.contains(stage.value))
      // Products: exactly the holding features that are set, named by their labels.
      let held = schema.customerFeatures.filter { $0.profile?.product != nil && values[$0.name] == 1 }
      #expect(profile.products.map(\.product) == held.map { $0.profile!.product! })
      #expect(profile.products.map(\.name) == held.map { $0.profile!.label })
    }

    // A bundle of the same layout that shows other features under other labels: a reload, no
    // new store.
    var relabelled = schema
    for (i, feature) in relabelled.customerFeatures.enumerated() {
      switch feature.name {
      case "age": relabelled.customerFeatures[i].profile = FeatureProfile(label: "Years of age")
      case "income_band": relabelled.customerFeatures[i].profile = nil
      case "salary_change": relabelled.customerFeatures[i].profile = FeatureProfile(label: "Salary change")
      case "holds_mortgage":
        relabelled.customerFeatures[i].profile = FeatureProfile(label: "Home loan", product: "home_loan")
      default: break
      }
    }
    let live = server.live.snapshot.bundle
    let bundle = try ModelBundle(
      name: "demo", version: "2", createdBy: "test", schema: relabelled, catalogue: live.catalogue, models: live.models,
      population: live.manifest.population)
    let root = try TestSupport.temporaryDirectory()
    try bundle.write(toRoot: root)
    _ = try server.live.reload(from: root)
    try await withInProcessClient(server) { client in
      let profile = try await Arbiter_V1_ProfileService.Client(wrapping: client).getProfile(
        .with { $0.customerID = 100_042 })
      #expect(profile.attributes.first { $0.feature == "age" }?.label == "Years of age")
      #expect(!profile.attributes.contains { $0.feature == "income_band" })
      #expect(
        profile.attributes.contains {
          $0.feature == "salary_change" && $0.label == "Salary change" && !$0.value.isEmpty
        })
      let mortgage = profile.featureValues[profile.featureNames.firstIndex(of: "holds_mortgage")!] == 1
      #expect(profile.products.contains { $0.product == "home_loan" && $0.name == "Home loan" } == mortgage)
    }
  }

  @Test func aProfileEntryMustMakeSense() throws {
    var schema = DemoBankSchema.schema
    let flag = schema.customerFeatures.firstIndex { $0.name == "age" }!
    schema.customerFeatures[flag].profile = FeatureProfile(label: "Age", product: "age")
    #expect(
      throws: ArbiterError(
        .invalidArgument, "feature 'age': profile.product names a product held, on a boolean feature only")
    ) {
      try schema.validate()
    }
    schema.customerFeatures[flag].profile = FeatureProfile(label: "")
    #expect(throws: ArbiterError(.invalidArgument, "feature 'age': profile.label is empty")) { try schema.validate() }
  }
}
