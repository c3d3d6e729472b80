import ArbiterCore
import ArbiterDecisioning
import ArbiterServer

extension TestSupport {
  /// Decisions the test server makes over many of its customers: every channel in turn,
  /// explained and not, with and without a call reason, 1 to 6 offers, and request ids that need
  /// escaping. What the direct writers (lean, gRPC, HTTP JSON) are checked on against
  /// swift-protobuf's encoders; a request the engine refuses is skipped.
  static func decisionSweep(_ server: ArbiterServer, count: Int) -> [(label: String, decision: Decision)] {
    let engine = server.live.snapshot.engine
    var decisions: [(label: String, decision: Decision)] = []
    for (k, id) in server.store.customerIds().prefix(count).enumerated() {
      let channel = Channel.allCases[k % Channel.allCases.count]
      let request = DecisionRequest(
        customerId: id, channel: channel, callReason: k % 3 == 0 ? "travel" : "", maxOffers: 1 + k % 6,
        explain: k % 2 == 0, requestId: k % 4 == 1 ? "req-é\"\(k)" : "r-\(k)")
      guard let decision = try? engine.decide(request, decisionId: "d-\(k)") else { continue }
      decisions.append(("customer \(id) on \(channel.name), explain \(request.explain)", decision))
    }
    return decisions
  }
}
