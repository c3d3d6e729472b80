import ArbiterCore
import ArbiterDemoBank
import ArbiterModels
import ArbiterServer
import Foundation
import Testing

@Suite struct BundleTests {
  @Test func committedBundleLoadsAndVerifies() throws {
    let bundle = try ModelBundle.load(from: TestSupport.demoBundlePath)
    #expect(bundle.manifest.name == "demo")
    #expect(bundle.models.models.count == bundle.catalogue.offers.count)
    #expect(bundle.catalogue.offers.count >= 20)
    #expect(bundle.models.models.allSatisfy { $0.metrics.holdoutAUC > 0.6 })
  }

  @Test func tamperedFileIsRefusedNamingIt() throws {
    let (_, version) = try TestSupport.copyOfDemoBundle()
    let file = version + "/models.json"
    var text = try String(contentsOfFile: file, encoding: .utf8)
    text = text.replacingOccurrences(of: "\"intercept\" : -", with: "\"intercept\" : -1")
    try text.write(toFile: file, atomically: true, encoding: .utf8)
    do {
      _ = try ModelBundle.load(from: version)
      Issue.record("a tampered bundle loaded")
    } catch {
      #expect(error.code == .dataCorrupted)
      #expect(error.message.contains("models.json: checksum mismatch"))
    }
  }

  @Test func truncatedAndMissingFilesAreRefused() throws {
    let (root, version) = try TestSupport.copyOfDemoBundle()
    let data = try Data(contentsOf: URL(fileURLWithPath: version + "/catalogue.json"))
    try data.prefix(data.count / 2).write(to: URL(fileURLWithPath: version + "/catalogue.json"))
    do {
      _ = try ModelBundle.load(from: root)
      Issue.record("a truncated bundle loaded")
    } catch {
      #expect(error.code == .dataCorrupted)
      #expect(error.message.contains("catalogue.json: checksum mismatch"))
    }
    let (otherRoot, otherVersion) = try TestSupport.copyOfDemoBundle()
    try FileManager.default.removeItem(atPath: otherVersion + "/schema.json")
    do {
      _ = try ModelBundle.load(from: otherRoot)
      Issue.record("a bundle without its schema loaded")
    } catch {
      #expect(error.code == .notFound)
      #expect(error.message.contains("schema.json"))
    }
    #expect(throws: ArbiterError(.notFound, "bundle directory '/nonexistent/bundle' does not exist")) {
      try ModelBundle.load(from: "/nonexistent/bundle")
    }
  }

  @Test func modelWithUnknownFeatureIsRefused() throws {
    var bundle = try ModelBundle.load(from: TestSupport.demoBundlePath)
    bundle.models.models[0].terms[0].feature = "shoe_size"
    #expect(
      throws: ArbiterError(
        .failedPrecondition, "model for 'premium-card-upgrade', term 0 uses feature 'shoe_size', which the schema lacks"
      )
    ) {
      try CompiledLogisticModel(bundle.models.models[0], schema: bundle.schema)
    }
  }

  @Test func newestVersionIsChosen() throws {
    let (root, version) = try TestSupport.copyOfDemoBundle()
    try FileManager.default.copyItem(atPath: version, toPath: root + "/10")
    try FileManager.default.copyItem(atPath: version, toPath: root + "/9")
    #expect(try ModelBundle.resolveVersionDirectory(root) == root + "/10")
  }

  /// `arbiter-tools generate` then `train` with the committed seed reproduce the committed bundle
  /// byte for byte (through the same CSV files the commands write and read).
  @Test(.timeLimit(.minutes(10))) func regeneratingFromTheSeedReproducesTheCommittedBundle() throws {
    let committed = try ModelBundle.load(from: TestSupport.demoBundlePath)
    let population = try #require(committed.manifest.population)
    let data = try TestSupport.temporaryDirectory()
    try DemoDataset.generate(seed: population.seed, customers: population.customers).write(to: data)
    let bundle = try DemoDataset.read(from: data).trainBundle(
      name: committed.manifest.name, version: committed.manifest.version)
    let out = try TestSupport.temporaryDirectory()
    let written = try bundle.write(toRoot: out)
    for file in [ModelBundle.manifestFile, ModelBundle.schemaFile, ModelBundle.catalogueFile, ModelBundle.modelsFile] {
      let regenerated = try Data(contentsOf: URL(fileURLWithPath: written + "/" + file))
      let original = try Data(contentsOf: URL(fileURLWithPath: committed.directory! + "/" + file))
      #expect(regenerated == original, "\(file) differs from the committed bundle")
    }
  }
}

@Suite struct BundleWatchTests {
  @Test func aNewVersionIsPublishedAndABadOneRefusedOnce() throws {
    let (root, version) = try TestSupport.copyOfDemoBundle()
    let server = try TestSupport.makeServer(bundlePath: root)
    var watch = server.live.startBundleWatch()
    #expect(server.live.checkForNewBundle(&watch) == .unchanged)
    // Version 2 appears: published.
    try FileManager.default.copyItem(atPath: version, toPath: root + "/2")
    let manifest = try String(contentsOfFile: root + "/2/manifest.json", encoding: .utf8).replacingOccurrences(
      of: "\"version\" : \"1\"", with: "\"version\" : \"2\"")
    try manifest.write(toFile: root + "/2/manifest.json", atomically: true, encoding: .utf8)
    #expect(server.live.checkForNewBundle(&watch) == .published(version: "2"))
    #expect(server.live.snapshot.engine.versions.bundleVersion == "2")
    // A corrupt version 3: refused, reported once, version 2 keeps serving.
    try FileManager.default.copyItem(atPath: root + "/2", toPath: root + "/3")
    try Data("{}".utf8).write(to: URL(fileURLWithPath: root + "/3/models.json"))
    guard case .refused(let directory, let reason) = server.live.checkForNewBundle(&watch) else {
      Issue.record("a corrupt version was not refused")
      return
    }
    #expect(directory == root + "/3" && reason.contains("models.json: checksum mismatch"))
    #expect(server.live.checkForNewBundle(&watch) == .unchanged)
    #expect(server.live.snapshot.engine.versions.bundleVersion == "2")
  }

  @Test func aManualReloadIsNotUndoneByTheWatcher() throws {
    let (root, version) = try TestSupport.copyOfDemoBundle()
    try FileManager.default.copyItem(atPath: version, toPath: root + "/2")
    let manifest = try String(contentsOfFile: root + "/2/manifest.json", encoding: .utf8)
      .replacingOccurrences(of: "\"version\" : \"1\"", with: "\"version\" : \"2\"")
    try manifest.write(toFile: root + "/2/manifest.json", atomically: true, encoding: .utf8)
    let server = try TestSupport.makeServer(bundlePath: root)
    var watch = server.live.startBundleWatch()
    #expect(server.live.snapshot.engine.versions.bundleVersion == "2")
    // An operator rolls back to version 1: the watcher leaves it (version 2 is not new).
    _ = try server.live.reload(from: version)
    for _ in 0..<3 { #expect(server.live.checkForNewBundle(&watch) == .unchanged) }
    #expect(server.live.snapshot.engine.versions.bundleVersion == "1")
    // ...and a bundle from elsewhere stays too.
    let (_, elsewhere) = try TestSupport.copyOfDemoBundle()
    _ = try server.live.reload(from: elsewhere)
    #expect(server.live.checkForNewBundle(&watch) == .unchanged)
    #expect(server.live.snapshot.bundle.directory == elsewhere)
    // A version dropped into the root afterwards is published.
    try FileManager.default.copyItem(atPath: root + "/2", toPath: root + "/3")
    let third = try String(contentsOfFile: root + "/3/manifest.json", encoding: .utf8)
      .replacingOccurrences(of: "\"version\" : \"2\"", with: "\"version\" : \"3\"")
    try third.write(toFile: root + "/3/manifest.json", atomically: true, encoding: .utf8)
    #expect(server.live.checkForNewBundle(&watch) == .published(version: "3"))
  }
}
