import ArbiterCore
import ArbiterDemoBank
import ArbiterFeatureStore
import Foundation
import Testing

/// Optional "min" / "max" of a numeric feature in schema.json.
@Suite struct SchemaRangeTests {
  @Test func rangesDecodeValidateAndAreWrittenOnlyWhenDeclared() throws {
    let json = """
      {"customerFeatures": [
        {"name": "age", "kind": {"type": "numeric"}, "description": "", "min": 18, "max": 120},
        {"name": "income", "kind": {"type": "numeric"}, "description": "", "min": 0},
        {"name": "score", "kind": {"type": "numeric"}, "description": ""}
      ], "contextFeatures": []}
      """
    let schema = try CanonicalJSON.decode(FeatureSchema.self, from: Data(json.utf8), file: "schema.json")
    try schema.validate()
    #expect(schema.customerFeatures[0].minimum == 18 && schema.customerFeatures[0].maximum == 120)
    #expect(schema.customerFeatures[1].minimum == 0 && schema.customerFeatures[1].maximum == nil)
    #expect(schema.customerFeatures[0].rangeProblem(-3) == "age = -3 is below its minimum 18")
    #expect(schema.customerFeatures[0].rangeProblem(130.5) == "age = 130.5 is above its maximum 120")
    #expect(schema.customerFeatures[0].rangeProblem(.nan) == nil)
    #expect(schema.customerFeatures[2].rangeProblem(-1e9) == nil)
    let written = String(decoding: try CanonicalJSON.encode(schema), as: UTF8.self)
    #expect(written.contains("\"min\" : 18") && written.contains("\"max\" : 120"))
    // A feature without a range is written as before, so existing schema hashes stay valid.
    let plain = FeatureSchema(
      customerFeatures: [FeatureDefinition(name: "score", kind: .numeric, description: "")], contextFeatures: [])
    let plainText = String(decoding: try CanonicalJSON.encode(plain), as: UTF8.self)
    #expect(!plainText.contains("min") && !plainText.contains("max"))

    var inverted = schema
    inverted.customerFeatures[0].minimum = 200
    #expect(throws: ArbiterError(.invalidArgument, "feature 'age': min 200 is above max 120")) {
      try inverted.validate()
    }
    let flag = FeatureSchema(
      customerFeatures: [FeatureDefinition(name: "vip", kind: .boolean, description: "", minimum: 0)],
      contextFeatures: [])
    #expect(throws: ArbiterError(.invalidArgument, "feature 'vip': min and max apply to numeric features only")) {
      try flag.validate()
    }
  }

  @Test func theDemoPopulationLiesWithinTheDemoSchemasRanges() {
    let schema = DemoBankSchema.schema
    #expect(schema.customerFeatures.first { $0.name == "age" }?.minimum == 18)
    var problems: [String] = []
    for customer in DemoPopulation(seed: 42).customers(count: 5_000) {
      for (i, feature) in schema.customerFeatures.enumerated() {
        if let problem = feature.rangeProblem(customer.values[i]) {
          problems.append("customer \(customer.id): \(problem)")
        }
      }
    }
    #expect(problems.isEmpty, "\(problems.prefix(5))")
  }
}
