import ArbiterDecisioning
import Foundation
import Testing

/// The API's documentation says what the engine does (bug 13): the suppression codes listed on
/// `SuppressedOffer.code` in decision.proto are exactly the engine's.
@Suite struct ProtoDocTests {
  @Test func theDocumentedSuppressionCodesAreTheEnginesCodes() throws {
    let proto = try String(contentsOfFile: TestSupport.repoRoot + "/proto/arbiter/v1/decision.proto", encoding: .utf8)
    let message = try #require(proto.range(of: "message SuppressedOffer {"))
    let field = try #require(proto.range(of: "string code = 2;", range: message.upperBound..<proto.endIndex))
    let comment = proto[message.upperBound..<field.lowerBound]
    let documented = Set(
      comment.split(separator: "\"").enumerated().filter { $0.offset % 2 == 1 }.map { String($0.element) })
    let engine = Set(Suppression.Code.all.map(\.rawValue))
    #expect(
      documented == engine,
      "documented only: \(documented.subtracting(engine)); undocumented: \(engine.subtracting(documented))")
  }
}
