import ArbiterCore
import ArbiterLearning
import Foundation
import Testing

/// The workbench as a data scientist uses it: `arbiter-tools train --csv` then `evaluate`, run as
/// the executable built beside these tests, on a CSV written from known rows.
@Suite struct WorkbenchCommandTests {
  static func tools(_ arguments: [String]) throws -> (status: Int32, output: String, errors: String) {
    let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
      .appendingPathComponent("arbiter-tools")
    let process = Process()
    process.executableURL = binary
    process.arguments = arguments
    let output = Pipe(), errors = Pipe()
    process.standardOutput = output
    process.standardError = errors
    try process.run()
    let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    let problems = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    return (process.terminationStatus, text, problems)
  }

  /// The synthetic rows as a CSV export: categories as their level names, booleans as yes/no.
  static func csv(rows: Int, seed: UInt64, extraLevel: Bool = false) -> String {
    let (table, _) = GradientBoostingTests.synthetic(rows: rows, seed: seed)
    var text = "id,balance,products,segment,online,noise,outcome\n"
    for r in 0..<rows {
      let v = table.vector(row: r)
      let segment = extraLevel && r == 7 ? "level9" : "level\(Int(v[2]))"
      text += "c\(r),\(v[0].isNaN ? "" : "\(v[0])"),\(Int(v[1])),\(segment),\(v[3] == 1 ? "yes" : "no"),\(v[4]),"
        + "\(table.labels[r] ? 1 : 0)\n"
    }
    return text
  }

  @Test(.timeLimit(.minutes(3))) func trainThenEvaluateFromTheCommandLine() throws {
    let directory = try TestSupport.temporaryDirectory()
    try Self.csv(rows: 6_000, seed: 81).write(toFile: directory + "/train.csv", atomically: true, encoding: .utf8)
    try Self.csv(rows: 3_000, seed: 82).write(toFile: directory + "/test.csv", atomically: true, encoding: .utf8)
    let trained = try Self.tools([
      "train", "--csv", directory + "/train.csv", "--target", "outcome", "--id", "id", "--folds", "3", "--rounds", "40",
      "--calibrate", "isotonic", "--out", directory + "/model", "--metrics-json", directory + "/cv.json",
    ])
    #expect(trained.status == 0, "\(trained.output) \(trained.errors)")
    #expect(trained.output.contains("segment: categorical (8 levels), 0 missing"))
    #expect(trained.output.contains("online: boolean, 0 missing"))
    #expect(trained.output.contains("fold 3/3"))
    for file in ["model.txt", "schema.json", "calibration.json"] {
      #expect(FileManager.default.fileExists(atPath: directory + "/model/" + file), "\(file)")
    }
    let cv = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: directory + "/cv.json"))) as? [String: Any]
    let meanAUC = try #require((cv?["folds"] as? [String: Any])?["meanAUC"] as? Double)
    #expect(meanAUC > 0.7)

    let evaluated = try Self.tools([
      "evaluate", "--model", directory + "/model/model.txt", "--csv", directory + "/test.csv", "--target", "outcome",
      "--out", directory + "/report",
    ])
    #expect(evaluated.status == 0, "\(evaluated.output) \(evaluated.errors)")
    let html = try String(contentsOfFile: directory + "/report/report.html", encoding: .utf8)
    #expect(html.contains("isotonic-calibrated") && html.components(separatedBy: "<svg").count - 1 == 8)
    let metrics = try JSONSerialization.jsonObject(
      with: Data(contentsOf: URL(fileURLWithPath: directory + "/report/metrics.json"))) as? [String: Any]
    #expect(metrics?["rows"] as? Int == 3_000)
    #expect(abs((metrics?["auc"] as? Double ?? 0) - meanAUC) < 0.03)

    // A category the schema does not list is named by its line and column, at scoring time.
    try Self.csv(rows: 20, seed: 83, extraLevel: true).write(
      toFile: directory + "/odd.csv", atomically: true, encoding: .utf8)
    let refused = try Self.tools([
      "evaluate", "--model", directory + "/model/model.txt", "--csv", directory + "/odd.csv", "--target", "outcome",
    ])
    #expect(refused.status == 2)
    #expect(refused.errors.contains("odd.csv:9: column 'segment': unknown level 'level9'"), "\(refused.errors)")
  }
}
