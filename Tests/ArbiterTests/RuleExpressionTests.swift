import ArbiterCore
import Foundation
import Testing

/// The rule language: values, three-valued logic over missing values, levels resolved at
/// compile time, and errors that point at the position.
@Suite struct RuleExpressionTests {
  let schema = FeatureSchema(
    customerFeatures: [
      FeatureDefinition(name: "age", kind: .numeric, description: ""),
      FeatureDefinition(name: "income", kind: .numeric, description: ""),
      FeatureDefinition(name: "holds_card", kind: .boolean, description: ""),
      FeatureDefinition(name: "segment", kind: .categorical(levels: ["mass", "affluent", "private"]), description: ""),
    ],
    contextFeatures: [
      FeatureDefinition(name: "channel", kind: .categorical(levels: ["web", "app", "contact_centre"]), description: "")
    ])

  func value(_ rule: String, _ customer: [Float], context: [Float] = [2]) throws -> Double {
    let compiled = try RuleExpression(rule, schema: schema)
    return customer.withUnsafeBufferPointer { c in
      context.withUnsafeBufferPointer { compiled.evaluate(customer: c, context: $0) }
    }
  }

  @Test func evaluatesArithmeticComparisonsSetsAndLogic() throws {
    let ana: [Float] = [46, 72, 0, 1]
    #expect(try value("age >= 25 and income > 50", ana) == 1)
    #expect(try value("(income - 40) / 2 == 16", ana) == 1)
    #expect(try value("-age + 2 * 23 == 0", ana) == 1)
    #expect(try value("segment in (\"affluent\", \"private\") && !holds_card", ana) == 1)
    #expect(try value("segment not in ('affluent')", ana) == 0)
    #expect(try value("segment == \"mass\" or channel == \"contact_centre\"", ana) == 1)
    #expect(try value("context.channel != 'web'", ana) == 1)
    #expect(try value("max(age, income) == 72 and min(age, 50) == 46 and abs(-3) == 3", ana) == 1)
    #expect(try value("age > 50 || income < 10", ana) == 0)
    #expect(try value("1_000 * 2 == 2e3", ana) == 1)
  }

  @Test func missingValuesAreUnknownNotFalse() throws {
    let noIncome: [Float] = [30, .nan, 0, .nan]
    #expect(try value("income > 50", noIncome).isNaN)
    #expect(try value("not (income > 50)", noIncome).isNaN)
    #expect(try value("income > 50 or age < 40", noIncome) == 1)
    #expect(try value("income > 50 and age > 40", noIncome) == 0)
    #expect(try value("income > 50 and age < 40", noIncome).isNaN)
    #expect(try value("segment in ('mass')", noIncome).isNaN)
    #expect(try value("missing(income) and present(age)", noIncome) == 1)
    #expect(try value("income / 0 > 1", [30, 5, 0, 0]).isNaN)
    let rule = try RuleExpression("income > 50", schema: schema)
    let holds = noIncome.withUnsafeBufferPointer { c in
      [Float]().withUnsafeBufferPointer { rule.holds(customer: c, context: $0) }
    }
    #expect(!holds, "unknown does not pass")
  }

  @Test func errorsPointAtThePosition() {
    func failure(_ rule: String) -> RuleError? {
      do { _ = try RuleExpression(rule, schema: schema); return nil } catch { return error }
    }
    #expect(failure("age >= 25 and incom > 3") == RuleError(position: 15, message: "unknown feature 'incom'"))
    #expect(failure("segment == \"gold\"")?.position == 12)
    #expect(failure("segment == \"gold\"")?.message.contains("not a level") == true)
    #expect(failure("age = 3") == RuleError(position: 5, message: "'=' is not an operator; compare with '=='"))
    #expect(failure("age > 3 and (income < 2") == RuleError(position: 24, message: "expected ')', found end of rule"))
    #expect(failure("segment + 1 > 2")?.message == "categorical feature in arithmetic")
    #expect(failure("age == 'x'")?.position == 8)
    #expect(failure("") == RuleError(position: 1, message: "the rule is empty"))
    #expect(failure("age > 3 3") == RuleError(position: 9, message: "unexpected number 3.0"))
    #expect(failure("min(age) > 1")?.message == "min takes 2 arguments, given 1")
  }

  /// A catalogue states only the policy settings it changes; the rest take their defaults.
  @Test func policySectionsNeedOnlyWhatTheyChange() throws {
    let text = """
      {"version": "v", "currency": "EUR", "ageFeature": "age", "offers": [],
       "exploration": {"method": "softmax"}, "controlGroup": {"share": 0.1},
       "contactPolicy": {"noRepeatDays": 30}, "arbitration": {"inboundCostShare": 0.5}}
      """
    let catalogue = try CanonicalJSON.decode(CatalogueDocument.self, from: Data(text.utf8), file: "catalogue.json")
    #expect(catalogue.exploration == ExplorationPolicy(method: .softmax, epsilon: 0.05, temperature: 0.2))
    #expect(catalogue.controlGroup == ControlGroupPolicy(share: 0.1, periodDays: 30, salt: ""))
    #expect(catalogue.contactPolicy == ContactPolicy(noRepeatDays: 30))
    #expect(catalogue.arbitration == ArbitrationPolicy(subtractChannelCost: true, inboundCostShare: 0.5, pacing: true))
    #expect(catalogue.capacity.isEmpty && catalogue.maxPerCategoryPerPage == 0)
  }
}
