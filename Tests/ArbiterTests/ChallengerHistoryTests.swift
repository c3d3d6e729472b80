import ArbiterCore
import ArbiterDecisioning
import Foundation
import Testing

/// Bug 5's other half: when only the challenger has a contact policy, the customer's history is
/// still fetched for it, so that it decides with the same inputs the champion would have had.
@Suite struct ChallengerHistoryTests {
  @Test func aChallengersContactPolicySeesTheHistoryWhenTheChampionHasNone() throws {
    // The champion: the demo bundle without its contact policy (no frequency caps).
    let (root, version) = try TestSupport.copyOfDemoBundle()
    let cataloguePath = version + "/catalogue.json"
    var catalogue =
      try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: cataloguePath)))
      as! [String: Any]
    catalogue["contactPolicy"] = [String: Any]()
    let data = try JSONSerialization.data(withJSONObject: catalogue, options: [.sortedKeys])
    try data.write(to: URL(fileURLWithPath: cataloguePath))
    let manifestPath = version + "/manifest.json"
    var manifest =
      try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: manifestPath)))
      as! [String: Any]
    var files = manifest["files"] as! [String: Any]
    files["catalogue.json"] = Checksum.sha256Hex([UInt8](data))
    manifest["files"] = files
    try JSONSerialization.data(withJSONObject: manifest, options: [.sortedKeys])
      .write(to: URL(fileURLWithPath: manifestPath))

    let logPath = try TestSupport.temporaryDirectory() + "/log.jsonl"
    let server = try TestSupport.makeServer(logPath: logPath, bundlePath: root)
    #expect(!server.live.snapshot.engine.catalogue.contactPolicy.isActive)
    // The challenger: the demo bundle as committed, with at most 2 e-mails a week.
    try server.live.setChallenger(path: TestSupport.demoBundlePath, share: 1)
    let engine = server.live.snapshot.engine
    let consent = engine.schema.customerIndex(of: "consent_email")!
    let customer = try #require(
      server.store.customerIds().first { id in
        engine.customers.storedValue(row: engine.customers.row(of: id)!, feature: consent) == 1
          && ((try? engine.decide(DecisionRequest(customerId: id, channel: .email), decisionId: "p"))?.offers.count
            ?? 0) > 0
      })
    for _ in 0..<4 {
      let decision = try server.live.decide(DecisionRequest(customerId: customer, channel: .email, maxOffers: 1))
      #expect(decision.offers.count == 1, "the champion has no cap")
    }
    server.live.log.flush()
    let shadows = try String(contentsOfFile: logPath, encoding: .utf8).split(separator: "\n")
      .compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
      .filter { $0["type"] as? String == "shadow" }
    #expect(shadows.count == 4)
    // The challenger e-mails twice, then its cap of 2 a week holds it back: it saw the history.
    let offered = shadows.map { ($0["offers"] as? [Any])?.count ?? -1 }
    #expect(offered == [1, 1, 0, 0], "offers per shadow decision: \(offered)")
  }
}
