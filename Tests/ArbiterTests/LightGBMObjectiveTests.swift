import ArbiterCore
import ArbiterModels
import Foundation
import Testing

/// LightGBM's binary objective with a `sigmoid` parameter other than 1 (fixtures made with real
/// LightGBM 4.6.0 by tools/make-infinite-threshold-fixture.py, model trained with `sigmoid=0.5`),
/// and objectives Arbiter cannot score as a propensity.
@Suite struct LightGBMObjectiveTests {
  static let directory = TestSupport.repoRoot + "/Tests/ArbiterTests/Fixtures/models/sigmoid"
  let fixture: LightGBMFixture

  init() throws {
    fixture = try LightGBMFixture(directory: Self.directory)
  }

  /// The probability is LightGBM's `1 / (1 + exp(-0.5 * z))` bit for bit, row by row and through
  /// the serving path; the raw scores are LightGBM's too.
  @Test func sigmoidParameterGivesLightGBMsProbabilities() throws {
    #expect(fixture.text.contains("\nobjective=binary sigmoid:0.5\n"))
    let model = try LightGBMImporter.load(fixture.text, schema: fixture.schema, file: "lightgbm.txt")
    let served = PropensityModel(.trees(model, featureNames: model.featureNames))
    #expect(fixture.rows.count == 650)
    let differs = fixture.expected.filter { $0.probability != TreeEnsemble.lightGBMSigmoid($0.raw) }.count
    #expect(differs > 600, "the fixture tells sigmoid 0.5 from 1")
    var mismatches = 0
    for (row, truth) in zip(fixture.rows, fixture.expected) {
      let raw = row.withUnsafeBufferPointer { model.rawScore($0) }
      let probability = row.withUnsafeBufferPointer { model.probability($0) }
      let propensity = row.withUnsafeBufferPointer { x in
        [Float]().withUnsafeBufferPointer { served.propensity(customer: x, context: $0) }
      }
      let agrees = raw.bitPattern == truth.raw.bitPattern && probability == truth.probability
      if !agrees || propensity != truth.probability {
        if mismatches < 5 {
          Issue.record("raw \(truth.raw): Arbiter \(raw) \(probability), LightGBM \(truth.probability)")
        }
        mismatches += 1
      }
    }
    #expect(mismatches == 0)
  }

  /// The parameter is read as LightGBM's own `Common::Atof` reads it (not correctly rounded for
  /// every text), and must be a positive number.
  @Test func sigmoidParameterIsReadAsLightGBMReadsIt() throws {
    func sigmoid(_ parameter: String) throws(ArbiterError) -> Double {
      let edited = fixture.text.replacingOccurrences(of: "sigmoid:0.5\n", with: "sigmoid:\(parameter)\n")
      return try LightGBMImporter.load(edited, schema: fixture.schema, file: "m.txt").sigmoid
    }
    #expect(try sigmoid("1") == 1)
    #expect(try sigmoid("0.25") == 0.25)
    #expect(try sigmoid("2.5e-1") == 0.25)
    // Atof adds the fraction's digits over a power of ten to the whole part: two roundings,
    // one bit above the correctly rounded 1.77483 here (as LightGBM's own predictions use it).
    #expect(try sigmoid("1.77483") == 1 + 77483 / 100_000.0)
    #expect(try sigmoid("1.77483") != 1.77483)
    for bad in ["0", "-1", "abc", "nan", "inf", "0.5x", ""] {
      #expect(
        throws: ArbiterError(
          .dataCorrupted,
          "m.txt: objective 'binary sigmoid:\(bad)': the sigmoid parameter "
            + "'\(bad)' is not a positive number")
      ) { try sigmoid(bad) }
    }
    let missing = fixture.text.replacingOccurrences(of: "objective=binary sigmoid:0.5\n", with: "objective=binary\n")
    #expect(throws: ArbiterError(.dataCorrupted, "m.txt: objective 'binary' has no sigmoid parameter")) {
      try LightGBMImporter.load(missing, schema: fixture.schema, file: "m.txt")
    }
  }

  /// Objectives whose output is not a propensity are refused, naming the file and the objective.
  @Test func otherObjectivesAreRefused() throws {
    let cases = [
      "multiclass num_class:3": "3", "multiclassova num_class:3 sigmoid:1": "3", "regression": "1",
      "regression_l1": "1", "poisson": "1", "lambdarank": "1", "binary_logloss sigmoid:1": "1",
      "binaryx sigmoid:1": "1",
    ]
    for (objective, classes) in cases {
      let edited = fixture.text
        .replacingOccurrences(of: "objective=binary sigmoid:0.5\n", with: "objective=\(objective)\n")
        .replacingOccurrences(of: "\nnum_class=1\n", with: "\nnum_class=\(classes)\n")
      #expect(
        throws: ArbiterError(
          .failedPrecondition,
          "m.txt: objective '\(objective)' with \(classes) classes; "
            + "only LightGBM's binary objective gives a propensity")
      ) {
        try LightGBMImporter.load(edited, schema: fixture.schema, file: "m.txt")
      }
    }
    let none = fixture.text.replacingOccurrences(of: "objective=binary sigmoid:0.5\n", with: "")
    #expect(
      throws: ArbiterError(
        .failedPrecondition,
        "m.txt: objective '?' with 1 classes; "
          + "only LightGBM's binary objective gives a propensity")
    ) {
      try LightGBMImporter.load(none, schema: fixture.schema, file: "m.txt")
    }
    // A random forest (boosting=rf) averages its trees instead of adding them.
    let averaged = fixture.text.replacingOccurrences(
      of: "objective=binary sigmoid:0.5\n", with: "objective=binary sigmoid:0.5\naverage_output\n")
    #expect(
      throws: ArbiterError(
        .failedPrecondition,
        "m.txt: the model averages its trees (average_output, "
          + "a random forest); only boosted models, which add them, are supported")
    ) {
      try LightGBMImporter.load(averaged, schema: fixture.schema, file: "m.txt")
    }
  }
}
