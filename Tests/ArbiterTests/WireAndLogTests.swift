import ArbiterCore
import ArbiterServer
import Foundation
import GRPCCore
import NIOCore
import SwiftProtobuf
import Testing

@testable import ArbiterDecisioning
@testable import ArbiterService

/// The lean protocol's direct DecideResponse writer and the interaction log's rings.
@Suite struct WireAndLogTests {
  /// The writer must produce exactly SwiftProtobuf's bytes for the same decision: every field,
  /// in order, with proto3's defaults left out.
  @Test func decideResponseWriterMatchesSwiftProtobufByteForByte() throws {
    let server = try TestSupport.makeServer()
    var checked = 0
    var sawSuppressed = false, sawScript = false
    for (label, decision) in TestSupport.decisionSweep(server, count: 360) {
      let expected: [UInt8] = try decision.proto.serializedBytes()
      let (size, bytes) = leanEncoding(decision)
      #expect(size == expected.count)
      #expect(bytes == expected, "\(label)")
      // The gRPC path writes into memory of exactly that size.
      let viaGRPC: [UInt8] = try EncodedDecisionSerializer().serialize(EncodedDecision(decision: decision))
      #expect(viaGRPC == expected)
      sawSuppressed = sawSuppressed || !decision.suppressed.isEmpty
      sawScript = sawScript || decision.offers.contains { !$0.treatment.agentScript.isEmpty }
      checked += 1
    }
    #expect(checked > 300)
    #expect(sawSuppressed && sawScript, "the cases cover suppressions and agent scripts")
  }

  @Test func signedZeroNaNSuppressionsAndControlsAreWrittenLikeSwiftProtobuf() throws {
    let offer = RankedOffer(
      rank: 1, offerIndex: 0, offerId: "o", name: "", product: "", propensity: -0.0, value: .nan, contextWeight: 0,
      score: .infinity,
      treatment: RenderedTreatment(title: "", message: "", agentScript: ""),
      reasons: [ReasonCode(code: "", feature: "", contribution: -0.0, phrase: "")])
    let decision = Decision(
      decisionId: "", requestId: "", customerId: 0, channel: .web,
      versions: VersionStamp(bundleName: "", bundleVersion: "", catalogueVersion: "", schemaHash: ""), offers: [offer],
      suppressed: [Suppression(offerId: "s", code: .belowCost, detail: "ü\n", propensity: -0.0, score: nil)],
      nanos: 0, timestampMillis: 0, controls: [ControlHoldout(offerId: "c", propensity: .nan, priority: -1)])
    let expected: [UInt8] = try decision.proto.serializedBytes()
    #expect(leanEncoding(decision).bytes == expected)
  }

  @Test func outcomesForDecisionsPushedOutOfTheRingAreNotFound() throws {
    let server = try TestSupport.makeServer()
    let engine = server.live.snapshot.engine
    let log = try InteractionLog(path: nil, decisionCapacity: 4, historyCapacity: 64)
    // Six customers who get an offer, decided one after another (consecutive sequences).
    let customers = (UInt64(100_000)..<100_100).filter { customer in
      (try? engine.decide(DecisionRequest(customerId: customer, channel: .web), decisionId: "probe"))?.offers.isEmpty
        == false
    }.prefix(6)
    #expect(customers.count == 6)
    var made: [(String, String)] = []
    for customer in customers {
      let (sequence, id) = log.makeDecisionId(kind: .decide)
      let decision = try engine.decide(DecisionRequest(customerId: customer, channel: .web), decisionId: id)
      log.record(decision, sequence: sequence)
      made.append((id, decision.offers[0].offerId))
    }
    // The two oldest are gone; the four newest are known.
    for (id, offer) in made.prefix(2) {
      #expect(throws: ArbiterError.self) {
        try log.record([OutcomeReport(decisionId: id, offerId: offer, outcome: .accept)])
      }
    }
    for (id, offer) in made.suffix(4) {
      #expect(try log.record([OutcomeReport(decisionId: id, offerId: offer, outcome: .accept)]) == 1)
    }
    // An id with another instance, or another kind letter, names no decision of this log.
    let (id, offer) = made[5]
    let parts = id.split(separator: "-")
    for forged in ["p-\(parts[1])-\(parts[2])", "d-0-\(parts[2])", "d-\(parts[1])-zz", "d-\(parts[1])-"] {
      #expect(throws: ArbiterError.self) {
        try log.record([OutcomeReport(decisionId: forged, offerId: offer, outcome: .accept)])
      }
    }
    #expect(throws: ArbiterError.self) {
      try log.record([OutcomeReport(decisionId: id, offerId: "not-made", outcome: .accept)])
    }
  }

  /// The log codes a decision's offers by catalogue index for speed; an index that names
  /// another offer (a decision built elsewhere, a new catalogue) must still log the offer's own id.
  @Test func offersAreLoggedByTheirIdsWhateverIndexTheyCarry() throws {
    let server = try TestSupport.makeServer()
    let engine = server.live.snapshot.engine
    let log = try InteractionLog(path: nil, decisionCapacity: 100, historyCapacity: 100)
    let (sequence, id) = log.makeDecisionId(kind: .decide)
    var decision = try engine.decide(DecisionRequest(customerId: 100_042, channel: .web, maxOffers: 3), decisionId: id)
    log.record(decision, sequence: sequence)
    let first = decision.offers.map(\.offerId)
    // The same version stamp, the same indices, other ids (reversed), then a new stamp.
    let ids = first.reversed().map { $0 }
    for (i, offerId) in ids.enumerated() { decision.offers[i].offerId = offerId }
    let (second, secondId) = log.makeDecisionId(kind: .decide)
    decision.decisionId = secondId
    decision.customerId = 100_043
    log.record(decision, sequence: second)
    decision.versions = VersionStamp(bundleName: "other", bundleVersion: "2", catalogueVersion: "x", schemaHash: "y")
    decision.offers[0].offerId = "an-offer-of-another-catalogue"
    let (third, thirdId) = log.makeDecisionId(kind: .decide)
    decision.decisionId = thirdId
    decision.customerId = 100_044
    log.record(decision, sequence: third)
    #expect(log.contacts(customerId: 100_042, limit: 10).map(\.offerId) == first.reversed())
    #expect(log.contacts(customerId: 100_043, limit: 10).map(\.offerId) == ids.reversed())
    #expect(
      log.contacts(customerId: 100_044, limit: 10).map(\.offerId)
        == (["an-offer-of-another-catalogue"] + ids.dropFirst()).reversed())
    #expect(try log.record([OutcomeReport(decisionId: secondId, offerId: ids[0], outcome: .accept)]) == 1)
  }

  @Test func historyReadsOnlyWhatTheRingStillHoldsNewestFirst() throws {
    let server = try TestSupport.makeServer()
    let engine = server.live.snapshot.engine
    let log = try InteractionLog(path: nil, decisionCapacity: 100, historyCapacity: 10)
    var ids: [String] = []
    for _ in 0..<3 {
      let (sequence, id) = log.makeDecisionId(kind: .decide)
      let decision = try engine.decide(
        DecisionRequest(customerId: 100_042, channel: .web, maxOffers: 3), decisionId: id)
      #expect(decision.offers.count == 3)
      log.record(decision, sequence: sequence)
      ids.append(id)
    }
    // Nine offers made; a decline fills the tenth place.
    _ = try log.record([
      OutcomeReport(
        decisionId: ids[2], offerId: log.recent(customerId: 100_042, limit: 1)[0].offerId, outcome: .decline,
        declineReason: "later")
    ])
    let all = log.recent(customerId: 100_042, limit: 50)
    #expect(all.count == 10)
    #expect(all[0].outcome == .decline && all[0].declineReason == "later" && all[0].decisionId == ids[2])
    #expect(all.suffix(3).allSatisfy { $0.decisionId == ids[0] })
    // Another customer's two offers push the oldest two out of the ring.
    let (sequence, id) = log.makeDecisionId(kind: .decide)
    log.record(
      try engine.decide(DecisionRequest(customerId: 100_007, channel: .web, maxOffers: 2), decisionId: id),
      sequence: sequence)
    let left = log.recent(customerId: 100_042, limit: 50)
    #expect(left.count == 8)
    #expect(Array(left) == Array(all.prefix(8)))
    let contacts = log.contacts(customerId: 100_042, limit: 50)
    #expect(contacts.map(\.offerId) == left.map(\.offerId) && contacts.map(\.outcome) == left.map(\.outcome))
    #expect(Set(contacts.map(\.decision)).count == 3, "offers of one decision share its number")
    #expect(log.recent(customerId: 100_007, limit: 50).count == 2)
  }

  @Test func logLinesAreJSONWithTheDecisionsNumbers() throws {
    let path = try TestSupport.temporaryDirectory() + "/log.jsonl"
    let server = try TestSupport.makeServer(logPath: path)
    var decisions: [Decision] = []
    for customer in UInt64(100_000)..<100_050 {
      decisions.append(try server.live.decide(DecisionRequest(customerId: customer, channel: .web, maxOffers: 4)))
    }
    server.live.log.flush()
    let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
    #expect(lines.count == decisions.count)
    for (line, decision) in zip(lines, decisions) {
      let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
      #expect(object["decision_id"] as? String == decision.decisionId)
      #expect((object["customer_id"] as? NSNumber)?.uint64Value == decision.customerId)
      let offers = try #require(object["offers"] as? [[String: Any]])
      #expect(offers.count == decision.offers.count)
      #expect(offers.map { $0["offer_id"] as? String } == decision.offers.map(\.offerId))
      // Numbers are compared as written (JSONSerialization may round the last digit): each
      // reads back as exactly the decision's double.
      for (key, values) in [
        ("propensity", decision.offers.map(\.propensity)), ("score", decision.offers.map(\.score)),
        ("probability", decision.offers.map(\.probability)), ("value", decision.offers.map(\.value)),
      ] {
        // The offers come first in the line (held-out control offers follow).
        let written = line.components(separatedBy: "\"\(key)\":").dropFirst().prefix(values.count).map {
          Double($0.prefix { !",}]".contains($0) })!
        }
        #expect(written == values, "\(key) in \(line)")
      }
    }
  }
}

@Suite struct LogNumberTests {
  /// Every number the log writes reads back as exactly the double it was, in the same text
  /// Swift prints for it, across magnitudes, including the ones the fast path gives up on.
  @Test func numbersReadBackExactlyAsSwiftPrintsThem() {
    var random = SeededGenerator(seed: 7)
    var values: [Double] = [
      0.5, 0.1, 0.7321331383462399, 65.3919824511616, 0.9517857142857142, 1e-4, 9.99e-5, 123456.789, 1e15 - 0.5, -0.25,
      -3.75e-3, 0.24328049658789763, 0.0001220703125, 0.1 + 0.2, 1 / 3, 2 / 3, 999_999_999_999_999.9,
    ]
    // Powers of two and their neighbours, where the interval that reads back is lopsided.
    for exponent in -13...49 {
      let power = Double(sign: .plus, exponent: exponent, significand: 1)
      values += [power, power.nextUp, power.nextDown, power * 3, (power * 3).nextDown]
    }
    for _ in 0..<300_000 {
      let unit = Double(random.next() >> 11) / 9_007_199_254_740_992
      values.append(unit)
      values.append(unit * 1_000)
      values.append(-unit * 1e-3)
      values.append(Double(bitPattern: random.next()))
    }
    var fast = 0
    var inRangeCount = 0
    var mismatches: [String] = []
    withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 64) { buffer in
      for value in values {
        var writer = JSONLineWriter(buffer)
        writer.number(value)
        let text = String(decoding: writer.bytes, as: UTF8.self)
        let magnitude = abs(value)
        let inRange = magnitude >= 1e-4 && magnitude < 1e15 && magnitude != magnitude.rounded(.towardZero)
        if inRange { inRangeCount += 1 }
        if inRange, JSONLineWriter.shortestDecimal(value) != nil { fast += 1 }
        let expected = value.isFinite ? value.description : "null"
        if text != expected, mismatches.count < 5 { mismatches.append("\(expected) written as \(text)") }
        if value.isFinite { #expect(Double(text) == value, "\(text) does not read back as \(value)") }
      }
    }
    #expect(mismatches.isEmpty, "\(mismatches)")
    // Every non-integral number from 1e-4 to 1e15 takes the exact path, 17-digit ones included;
    // random bit patterns are mostly outside it.
    #expect(fast == inRangeCount, "the exact path took \(fast) of the \(inRangeCount) in its range")
    #expect(inRangeCount > values.count / 2)
  }
}

/// What the lean server writes for a decision: the size it frames, and the bytes.
private func leanEncoding(_ decision: Decision) -> (size: Int, bytes: [UInt8]) {
  DecideResponseWriter.withSizes(of: decision) { size, offers in
    var buffer = ByteBufferAllocator().buffer(capacity: 16)
    DecideResponseWriter.write(decision, size: size, offers: offers, into: &buffer)
    return (size, Array(buffer.readableBytesView))
  }
}
