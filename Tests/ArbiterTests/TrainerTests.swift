import ArbiterCore
import ArbiterModels
import Foundation
import Testing

@Suite struct LogisticTrainerTests {
  @Test func aucHandlesTiesAndOrder() {
    #expect(LogisticTrainer.auc(scores: [0.1, 0.2, 0.3, 0.4], labels: [false, false, true, true]) == 1)
    #expect(LogisticTrainer.auc(scores: [0.4, 0.3, 0.2, 0.1], labels: [false, false, true, true]) == 0)
    #expect(LogisticTrainer.auc(scores: [0.5, 0.5, 0.5, 0.5], labels: [false, true, false, true]) == 0.5)
    #expect(LogisticTrainer.auc(scores: [1, 2], labels: [true, true]).isNaN)
  }

  /// Data drawn from a known logistic model: the fit recovers its coefficients (in original units).
  @Test func recoversKnownCoefficients() throws {
    let schema = FeatureSchema(
      customerFeatures: [
        FeatureDefinition(name: "x", kind: .numeric, description: ""),
        FeatureDefinition(name: "noise", kind: .numeric, description: ""),
        FeatureDefinition(name: "colour", kind: .categorical(levels: ["red", "green", "blue"]), description: ""),
      ],
      contextFeatures: [])
    var rng = SeededGenerator(seed: 7)
    var data = TrainingSet(customerWidth: 3, contextWidth: 0)
    for i in 0..<40_000 {
      let x = rng.normal() * 2 + 1, noise = rng.normal(), colour = rng.below(3)
      let z = -1.0 + 0.8 * x + (colour == 2 ? 1.5 : 0)
      data.append(
        customer: [Float(x), Float(noise), Float(colour)], context: [], label: rng.chance(1 / (1 + exp(-z))),
        group: UInt64(i))
    }
    var trainer = LogisticTrainer()
    trainer.l2 = 0.01
    let model = try trainer.train(offerId: "o", schema: schema, data: data)
    func weight(_ feature: String, _ level: String? = nil) -> Double {
      let term = model.terms.first { $0.feature == feature && $0.level == level }!
      return term.weight / term.scale
    }
    #expect(abs(weight("x") - 0.8) < 0.05)
    #expect(abs(weight("noise")) < 0.05)
    #expect(abs(weight("colour", "blue") - 1.5) < 0.1)
    #expect(abs(weight("colour", "green")) < 0.1)
    #expect(model.metrics.holdoutAUC > 0.8)
    #expect(model.metrics.holdoutRows > 6_000 && model.metrics.holdoutRows < 10_000)
  }

  @Test func refusesOneClassData() {
    let schema = FeatureSchema(
      customerFeatures: [FeatureDefinition(name: "x", kind: .numeric, description: "")], contextFeatures: [])
    var data = TrainingSet(customerWidth: 1, contextWidth: 0)
    for i in 0..<100 { data.append(customer: [Float(i)], context: [], label: false, group: UInt64(i)) }
    #expect(throws: ArbiterError.self) { try LogisticTrainer().train(offerId: "o", schema: schema, data: data) }
  }
}
