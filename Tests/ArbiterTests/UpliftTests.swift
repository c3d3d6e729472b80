import ArbiterCore
import ArbiterLearning
import Foundation
import Testing

/// Uplift models on Hillstrom's randomised e-mail campaign, their Qini evaluation checked
/// against scikit-uplift, and the Qini coefficient's fixed points.
@Suite struct UpliftTests {
  static let hillstrom = PolicyEvaluationTests.hillstrom

  @Test func theQiniCoefficientIsOneForThePerfectRankingAndZeroForNone() {
    var random = SeededGenerator(seed: 3)
    let treated = (0..<2_000).map { _ in random.chance(0.5) }
    let outcome = (0..<2_000).map { i in random.chance(treated[i] ? 0.3 : 0.1) }
    let perfect = (0..<2_000).map { i in outcome[i] ? (treated[i] ? 1.0 : -1.0) : 0 }
    #expect(
      abs(UpliftEvaluation.evaluate(uplift: perfect, treated: treated, outcome: outcome).qiniCoefficient - 1) < 1e-12)
    let none = UpliftEvaluation.evaluate(
      uplift: Array(repeating: 0.2, count: 2_000), treated: treated, outcome: outcome)
    #expect(abs(none.qiniCoefficient) < 1e-12 && none.curve.count == 2)
    let reversed = UpliftEvaluation.evaluate(uplift: perfect.map { -$0 }, treated: treated, outcome: outcome)
    #expect(reversed.qiniCoefficient < -0.5)
    #expect(abs(none.averageEffect - (none.deciles.map(\.uplift).reduce(0, +) / 10)) < 0.05)
  }

  @Test(.timeLimit(.minutes(5))) func bothApproachesFindTheWomensEmailsUpliftOnHillstrom() throws {
    var options = UpliftTable.Options(
      treatmentColumn: "segment", treatedValue: "Womens E-Mail", controlValue: "No E-Mail", target: "visit")
    options.ignored = ["conversion", "spend"]
    let (data, _) = try UpliftTable.read(path: Self.hillstrom, options: options)
    #expect(data.table.rowCount == 42_693 && data.otherArms == 21_307)
    let plan = try FoldPlan.holdout(0.3, table: data.table, seed: 7)
    let training = data.rows(plan.testing(0)), heldOut = data.rows(plan.testing(1))
    var parameters = BoostingParameters()
    parameters.learningRate = 0.05
    parameters.leaves = 15
    parameters.minimumRowsPerLeaf = 100
    for approach in UpliftModel.Approach.allCases {
      let model = try UpliftModel.train(approach, on: training, learner: .trees, boosting: parameters, logisticL2: 1)
      let e = UpliftEvaluation.evaluate(
        uplift: model.predict(heldOut.table).uplift, treated: heldOut.treated, outcome: heldOut.table.labels)
      // The e-mail works (about +4.7 points of visits), and the models find who it works for best.
      #expect(e.averageEffect > 0.03, "\(approach): \(e.averageEffect)")
      #expect(e.qiniCoefficient > 0.03 && e.upliftAt30 > e.averageEffect + 0.02, "\(approach): \(e.qiniCoefficient)")
    }
  }

  @Test(.timeLimit(.minutes(5))) func scikitUpliftComputesTheSameMetricsAndAComparableModel() async throws {
    let out = try TestSupport.temporaryDirectory() + "/uplift"
    let tools = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
      .appendingPathComponent("arbiter-tools").path
    let arms = ["--treatment", "segment", "--treated", "Womens E-Mail", "--control", "No E-Mail", "--target", "visit"]
    let printed = try await TestSupport.run(
      tools, ["train-uplift", "--csv", Self.hillstrom] + arms + ["--ignore", "conversion,spend", "--out", out])
    #expect(printed.contains("Qini coefficient"), "\(printed)")
    let html = try String(contentsOfFile: out + "/report.html", encoding: .utf8)
    #expect(html.contains("Qini curve") && html.contains("<svg") && !html.contains("<script"))
    let reference = try await TestSupport.run(
      "/usr/bin/python3",
      [TestSupport.repoRoot + "/tools/uplift-reference.py", out, Self.hillstrom] + arms + [
        "--ignore", "conversion,spend",
      ])
    #expect(reference.contains("largest difference"), "\(reference)")
    // Its model, trained with LightGBM on the same rows, is no better than Arbiter's by more than 0.01.
    let line = try #require(reference.split(separator: "\n").first { $0.hasPrefix("qini arbiter") })
    let numbers = line.split(separator: " ").compactMap { Double($0) }
    #expect(numbers.count == 2 && numbers[0] > numbers[1] - 0.01, "\(line)")
  }

  @Test func aTableWithoutBothArmsIsRefused() throws {
    let path = try TestSupport.temporaryDirectory() + "/one-arm.csv"
    try "x,arm,y\n1,A,1\n2,A,0\n3,B,1\n".write(toFile: path, atomically: true, encoding: .utf8)
    let options = UpliftTable.Options(treatmentColumn: "arm", treatedValue: "A", controlValue: "C", target: "y")
    do {
      _ = try UpliftTable.read(path: path, options: options)
      Issue.record("a table without control rows was read")
    } catch {
      #expect(error.message == "one-arm.csv: 'arm' has 2 rows of 'A' and 0 of 'C'; uplift needs both")
    }
  }
}
