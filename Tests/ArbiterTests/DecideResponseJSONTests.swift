import ArbiterAPI
import ArbiterCore
import ArbiterService
import Foundation
import SwiftProtobuf
import Testing

@testable import ArbiterDecisioning
@testable import ArbiterHTTP

/// The HTTP door's direct JSON writer of decisions against swift-protobuf's own encoder: the same
/// bytes for every decision, explained or not, on every channel, and for strings that need
/// escaping.
@Suite struct DecideResponseJSONTests {
  @Test func theBytesAreSwiftProtobufsForManyDecisions() throws {
    let server = try TestSupport.makeServer()
    var compared = 0
    for (label, decision) in TestSupport.decisionSweep(server, count: 300) {
      let expected = try decision.proto.jsonString()
      let written = String(decoding: DecideResponseJSON.encode(decision), as: UTF8.self)
      #expect(written == expected, "\(label)")
      compared += 1
    }
    #expect(compared > 250)
  }

  @Test func stringsAndNumbersAreWrittenAsSwiftProtobufWritesThem() throws {
    let awkward =
      "quote \" back \\ tab \t nl \n cr \r bs \u{8} ff \u{C} nul \u{0} del \u{7F} c1 \u{85} \u{9F} nbsp \u{A0} cent ¢ é "
      + "✓ 🏦 \u{2028}"
    let offer = RankedOffer(
      rank: 1, offerIndex: 0, offerId: awkward, name: "n", product: "", propensity: 1e-7, value: 1_500,
      contextWeight: 1, score: -0.0, treatment: RenderedTreatment(title: awkward, message: "", agentScript: "s"),
      reasons: [ReasonCode(code: "C", feature: "", contribution: .infinity, phrase: awkward)])
    var decision = Decision(
      decisionId: "d", requestId: awkward, customerId: UInt64.max, channel: .sms,
      versions: VersionStamp(bundleName: "", bundleVersion: "", catalogueVersion: "", schemaHash: ""),
      offers: [offer, offer], suppressed: [Suppression(offerId: "x", code: .closed, detail: awkward)], nanos: 0,
      timestampMillis: 0)
    decision.controls = [ControlHoldout(offerId: "c", propensity: .nan, priority: -.infinity)]
    let expected = try decision.proto.jsonString()
    #expect(String(decoding: DecideResponseJSON.encode(decision), as: UTF8.self) == expected)
  }

  /// Doubles of every magnitude (the writer's shortest-digits path and its fallback) as
  /// swift-protobuf writes them.
  @Test func doublesAreWrittenAsSwiftProtobufWritesThem() throws {
    var random = SeededGenerator(seed: 11)
    var values: [Double] = [0.1, 1.0, 3.0, 1e15, 1e15 - 0.5, 123456789012345.6, 1e-4, 9.99e-5, 5e-324, 1e300, -2.5]
    for _ in 0..<2_000 {
      let unit = Double(random.next() >> 11) / 9_007_199_254_740_992
      values += [unit, unit * 1_000, -unit * 1e-3, Double(bitPattern: random.next())]
    }
    var differing: [String] = []
    for value in values where value.isFinite {
      let offer = RankedOffer(
        rank: 1, offerIndex: 0, offerId: "o", name: "n", product: "", propensity: value, value: 1, contextWeight: 1,
        score: value, treatment: RenderedTreatment(title: "", message: "", agentScript: ""), reasons: [])
      let decision = Decision(
        decisionId: "d", requestId: "", customerId: 1, channel: .web,
        versions: VersionStamp(bundleName: "", bundleVersion: "", catalogueVersion: "", schemaHash: ""),
        offers: [offer], suppressed: [], nanos: 0, timestampMillis: 0)
      let written = String(decoding: DecideResponseJSON.encode(decision), as: UTF8.self)
      if try written != decision.proto.jsonString(), differing.count < 5 { differing.append("\(value)") }
    }
    #expect(differing.isEmpty, "\(differing)")
  }
}
