import Foundation
import Testing

/// `arbiter-tools simulate` against the demo bank's hidden truth: Arbiter's choices reach at
/// least 90% of the oracle's expected accepted value and far more than random ones.
@Suite struct DecisionQualityTests {
  @Test func arbiterReachesNinetyPercentOfTheOracle() throws {
    let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(
      "arbiter-tools")
    guard FileManager.default.isExecutableFile(atPath: binary.path) else {
      throw TestFailure("arbiter-tools is not built next to the tests (\(binary.path)); run `swift build` first")
    }
    let process = Process()
    process.executableURL = binary
    process.arguments = ["simulate", "--bundle", TestSupport.demoBundlePath, "--interactions", "10000", "--seed", "11"]
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    #expect(process.terminationStatus == 0, "\(output)")
    func share(_ policy: String) -> Double? {
      guard let line = output.split(separator: "\n").first(where: { $0.hasPrefix(policy) }),
        let last = line.split(separator: " ").last
      else { return nil }
      return Double(last.dropLast())
    }
    let greedy = try #require(share("Arbiter, greedy"), "\(output)")
    let configured = try #require(share("Arbiter, as configured"), "\(output)")
    let random = try #require(share("random eligible offer"), "\(output)")
    #expect(greedy >= 90, "\(output)")
    #expect(configured >= 90, "\(output)")
    #expect(random < 50, "\(output)")
  }

  /// `simulate --drift`, short: after the new offer arrives and after the propensity halves, the
  /// adaptive policy with Thompson sampling is worth more than the static bundle in every window.
  @Test(.timeLimit(.minutes(5))) func inADriftingWorldTheAdaptivePolicyBeatsTheStaticOne() async throws {
    let tools = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
      .appendingPathComponent("arbiter-tools").path
    let output = try await TestSupport.run(
      tools, ["simulate", "--bundle", TestSupport.demoBundlePath, "--drift", "--interactions", "18000", "--window", "3000"])
    // Rows: start, static, adaptive, oracle, static %, adaptive %.
    let rows = output.split(separator: "\n").compactMap { line -> [Double]? in
      let numbers = line.split(separator: " ").prefix(6).compactMap { Double($0.replacingOccurrences(of: "%", with: "")) }
      return numbers.count == 6 ? numbers : nil
    }
    try #require(rows.count == 6, "\(output)")
    for row in rows where row[0] >= 6_000 {
      #expect(row[2] > row[1], "after a change, adaptive \(row[2]) is not above static \(row[1]): \(output)")
      #expect(row[3] >= row[2], "\(output)")
    }
    #expect(rows.last![5] > 85 && rows.last![4] < 75, "\(output)")
  }
}
