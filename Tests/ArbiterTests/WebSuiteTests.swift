import Foundation
import Testing

/// The browser and API tests (Tests/Web, run by tools/web-tests.sh): the demo site, the agent
/// console and the dashboard in headless Chromium, and schemathesis against the OpenAPI document,
/// with the `arbiter` executable built beside these tests. Screenshots go to .build/screenshots.
@Suite struct WebSuiteTests {
  @Test(.timeLimit(.minutes(20))) func theBrowserAndAPITestsPass() async throws {
    let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
      .appendingPathComponent("arbiter")
    guard FileManager.default.isExecutableFile(atPath: binary.path) else {
      Issue.record("the arbiter executable is not built next to the tests (\(binary.path)); run `swift build` first")
      return
    }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/bash")
    process.arguments = [TestSupport.repoRoot + "/tools/web-tests.sh"]
    var environment = ProcessInfo.processInfo.environment
    environment["ARBITER_BIN"] = binary.path
    environment.removeValue(forKey: "ARBITER_HTTP_URL")
    environment.removeValue(forKey: "ARBITER_WEB_ROOT")
    process.environment = environment
    let output = Pipe()
    process.standardOutput = output
    process.standardError = output
    // Off the Swift pool: the wait is minutes long.
    let (status, text) = try await withCheckedThrowingContinuation { continuation in
      Thread {
        do {
          try process.run()
          let data = output.fileHandleForReading.readDataToEndOfFile()
          process.waitUntilExit()
          continuation.resume(returning: (process.terminationStatus, String(decoding: data, as: UTF8.self)))
        } catch { continuation.resume(throwing: error) }
      }.start()
    }
    #expect(status == 0, "\(text.suffix(8_000))")
    #expect(text.contains(" passed"), "\(text.suffix(2_000))")
  }
}
