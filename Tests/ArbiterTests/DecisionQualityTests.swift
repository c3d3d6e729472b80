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
}
