import ArbiterAPI
import ArbiterCore
import ArbiterDecisioning
import ArbiterObservability
import Dispatch
import GRPCCore
import GRPCProtobuf
import NIOCore

/// Writes a ``Decision`` as the protobuf wire bytes of `arbiter.v1.DecideResponse`, straight
/// into an output buffer: no intermediate message, no byte array. The bytes are exactly those
/// SwiftProtobuf writes for ``Decision/proto`` (fields in number order, proto3 defaults left
/// out); a test holds the two to the same bytes. The lean protocol answers `Decide` with it.
package enum DecideResponseWriter {
  /// An offer's encoded size and its treatment's, worked out once for sizing and writing.
  package struct OfferSizes {
    var offer: Int
    var treatment: Int
  }

  /// Runs `body` with the encoded size and the sizes of each offer (in memory of the stack).
  package static func withSizes<R>(
    of decision: Decision, _ body: (_ size: Int, _ offers: UnsafeBufferPointer<OfferSizes>) -> R
  ) -> R {
    withUnsafeTemporaryAllocation(of: OfferSizes.self, capacity: max(1, decision.offers.count)) { buffer in
      var n = ProtoWire.string(1, decision.decisionId) + ProtoWire.string(2, decision.requestId)
      n +=
        ProtoWire.varint(3, decision.customerId)
        + ProtoWire.varint(4, UInt64(bitPattern: Int64(decision.channel.proto.rawValue)))
      n += ProtoWire.message(5, versionsSize(decision.versions))
      for i in decision.offers.indices {
        let treatment = treatmentSize(decision.offers[i].treatment)
        let offer = offerSize(decision.offers[i], treatmentSize: treatment)
        buffer.initializeElement(at: i, to: OfferSizes(offer: offer, treatment: treatment))
        n += ProtoWire.message(6, offer)
      }
      for suppression in decision.suppressed { n += ProtoWire.message(7, suppressionSize(suppression)) }
      n += ProtoWire.varint(8, decision.nanos)
      for held in decision.controls { n += ProtoWire.message(9, controlSize(held)) }
      n += ProtoWire.string(10, decision.exploration)
      n += ProtoWire.varint(11, decision.fallback ? 1 : 0)
      defer { buffer.prefix(decision.offers.count).deinitialize() }
      return body(n, UnsafeBufferPointer(rebasing: buffer.prefix(decision.offers.count)))
    }
  }

  /// Writes the message with the sizes ``withSizes(of:_:)`` gave.
  package static func write(
    _ decision: Decision, size: Int, offers: UnsafeBufferPointer<OfferSizes>, into buffer: inout ByteBuffer
  ) {
    let written = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: size) { raw in
      var out = RawProtoWriter(raw)
      write(decision, offers: offers, &out)
      return out.position
    }
    precondition(written == size, "DecideResponse of \(written) bytes, sized \(size)")
  }

  static func write(_ decision: Decision, offers: UnsafeBufferPointer<OfferSizes>, _ out: inout RawProtoWriter) {
    out.writeString(1, decision.decisionId)
    out.writeString(2, decision.requestId)
    out.writeVarint(3, decision.customerId)
    out.writeVarint(4, UInt64(bitPattern: Int64(decision.channel.proto.rawValue)))
    let versions = decision.versions
    out.writeMessageHeader(5, versionsSize(versions))
    out.writeString(1, versions.bundleName)
    out.writeString(2, versions.bundleVersion)
    out.writeString(3, versions.catalogueVersion)
    out.writeString(4, versions.schemaHash)
    for i in decision.offers.indices { writeOffer(decision.offers[i], offers[i], &out) }
    for suppression in decision.suppressed {
      out.writeMessageHeader(7, suppressionSize(suppression))
      out.writeString(1, suppression.offerId)
      out.writeString(2, suppression.code.rawValue)
      out.writeString(3, suppression.detail)
      out.writeDouble(4, suppression.propensity ?? 0)
      out.writeDouble(5, suppression.score ?? 0)
    }
    out.writeVarint(8, decision.nanos)
    for held in decision.controls {
      out.writeMessageHeader(9, controlSize(held))
      out.writeString(1, held.offerId)
      out.writeDouble(2, held.propensity)
      out.writeDouble(3, held.priority)
    }
    out.writeString(10, decision.exploration)
    out.writeVarint(11, decision.fallback ? 1 : 0)
  }

  private static func writeOffer(_ offer: RankedOffer, _ sizes: OfferSizes, _ out: inout RawProtoWriter) {
    out.writeMessageHeader(6, sizes.offer)
    out.writeString(1, offer.offerId)
    out.writeString(2, offer.name)
    out.writeVarint(3, UInt64(UInt32(truncatingIfNeeded: offer.offerIndex)))
    out.writeDouble(4, offer.propensity)
    out.writeDouble(5, offer.value)
    out.writeDouble(6, offer.score)
    out.writeMessageHeader(7, sizes.treatment)
    out.writeString(1, offer.treatment.title)
    out.writeString(2, offer.treatment.message)
    out.writeString(3, offer.treatment.agentScript)
    for k in offer.reasons.indices {
      out.writeMessageHeader(8, reasonSize(offer.reasons[k]))
      out.writeString(1, offer.reasons[k].code)
      out.writeString(2, offer.reasons[k].feature)
      out.writeDouble(3, offer.reasons[k].contribution)
      out.writeString(4, offer.reasons[k].phrase)
    }
    out.writeVarint(9, UInt64(UInt32(truncatingIfNeeded: offer.rank)))
    out.writeString(10, offer.product)
    out.writeDouble(11, offer.contextWeight)
    out.writeDouble(12, offer.lever)
    out.writeDouble(13, offer.channelCost)
    out.writeDouble(14, offer.shadowPrice)
    out.writeDouble(15, offer.probability)
    out.writeString(16, offer.category)
  }

  private static func versionsSize(_ v: VersionStamp) -> Int {
    ProtoWire.string(1, v.bundleName) + ProtoWire.string(2, v.bundleVersion) + ProtoWire.string(3, v.catalogueVersion)
      + ProtoWire.string(4, v.schemaHash)
  }

  private static func treatmentSize(_ t: RenderedTreatment) -> Int {
    ProtoWire.string(1, t.title) + ProtoWire.string(2, t.message) + ProtoWire.string(3, t.agentScript)
  }

  private static func reasonSize(_ r: ReasonCode) -> Int {
    ProtoWire.string(1, r.code) + ProtoWire.string(2, r.feature) + ProtoWire.double(3, r.contribution)
      + ProtoWire.string(4, r.phrase)
  }

  private static func offerSize(_ o: RankedOffer, treatmentSize treatment: Int) -> Int {
    var n =
      ProtoWire.string(1, o.offerId) + ProtoWire.string(2, o.name)
      + ProtoWire.varint(3, UInt64(UInt32(truncatingIfNeeded: o.offerIndex)))
    n += ProtoWire.double(4, o.propensity) + ProtoWire.double(5, o.value) + ProtoWire.double(6, o.score)
    n += ProtoWire.message(7, treatment)
    for k in o.reasons.indices { n += ProtoWire.message(8, reasonSize(o.reasons[k])) }
    n += ProtoWire.varint(9, UInt64(UInt32(truncatingIfNeeded: o.rank))) + ProtoWire.string(10, o.product)
    n += ProtoWire.double(11, o.contextWeight) + ProtoWire.double(12, o.lever) + ProtoWire.double(13, o.channelCost)
    n += ProtoWire.double(14, o.shadowPrice) + ProtoWire.double(15, o.probability) + ProtoWire.string(16, o.category)
    return n
  }

  private static func suppressionSize(_ s: Suppression) -> Int {
    ProtoWire.string(1, s.offerId) + ProtoWire.string(2, s.code.rawValue) + ProtoWire.string(3, s.detail)
      + ProtoWire.double(4, s.propensity ?? 0) + ProtoWire.double(5, s.score ?? 0)
  }

  private static func controlSize(_ c: ControlHoldout) -> Int {
    ProtoWire.string(1, c.offerId) + ProtoWire.double(2, c.propensity) + ProtoWire.double(3, c.priority)
  }
}

/// Protobuf wire primitives with proto3's rule that a field holding its default (empty, zero;
/// a double only when +0.0, as SwiftProtobuf does) is not written. Sizes and writers come in pairs.
enum ProtoWire {
  @inline(__always) static func varintSize(_ value: UInt64) -> Int {
    value == 0 ? 1 : (64 - value.leadingZeroBitCount + 6) / 7
  }
  @inline(__always) static func tagSize(_ field: Int) -> Int { varintSize(UInt64(field << 3)) }

  static func string(_ field: Int, _ text: String) -> Int {
    let count = text.utf8.count
    return count == 0 ? 0 : tagSize(field) + varintSize(UInt64(count)) + count
  }
  static func varint(_ field: Int, _ value: UInt64) -> Int { value == 0 ? 0 : tagSize(field) + varintSize(value) }
  static func double(_ field: Int, _ value: Double) -> Int { value.bitPattern == 0 ? 0 : tagSize(field) + 8 }
  /// A set sub-message is written even when empty.
  static func message(_ field: Int, _ size: Int) -> Int { tagSize(field) + varintSize(UInt64(size)) + size }

}

/// Writes protobuf fields into memory sized beforehand (see ``ProtoWire``'s sizes), with the
/// same rule for defaults.
struct RawProtoWriter {
  let base: UnsafeMutablePointer<UInt8>
  let capacity: Int
  private(set) var position = 0

  init(_ raw: UnsafeMutableRawBufferPointer) {
    base = raw.baseAddress!.assumingMemoryBound(to: UInt8.self)
    capacity = raw.count
  }

  @inline(__always) mutating func writeRawVarint(_ value: UInt64) {
    var v = value
    while v >= 0x80 {
      base[position] = UInt8(truncatingIfNeeded: v) | 0x80
      position += 1
      v >>= 7
    }
    base[position] = UInt8(v)
    position += 1
  }

  mutating func writeString(_ field: Int, _ text: String) {
    let count = text.utf8.count
    guard count > 0 else { return }
    precondition(position + ProtoWire.string(field, text) <= capacity, "protobuf writer overrun")
    writeRawVarint(UInt64(field << 3 | 2))
    writeRawVarint(UInt64(count))
    let target = base + position
    // Native strings are contiguous UTF-8: copied without making a mutable copy of the string.
    if text.utf8.withContiguousStorageIfAvailable({ target.update(from: $0.baseAddress!, count: count) }) == nil {
      var copy = text
      copy.withUTF8 { target.update(from: $0.baseAddress!, count: count) }
    }
    position += count
  }

  mutating func writeVarint(_ field: Int, _ value: UInt64) {
    guard value != 0 else { return }
    precondition(position + ProtoWire.varint(field, value) <= capacity, "protobuf writer overrun")
    writeRawVarint(UInt64(field << 3))
    writeRawVarint(value)
  }

  mutating func writeDouble(_ field: Int, _ value: Double) {
    guard value.bitPattern != 0 else { return }
    precondition(position + ProtoWire.double(field, value) <= capacity, "protobuf writer overrun")
    writeRawVarint(UInt64(field << 3 | 1))
    withUnsafeBytes(of: value.bitPattern.littleEndian) {
      (base + position).update(from: $0.baseAddress!.assumingMemoryBound(to: UInt8.self), count: 8)
    }
    position += 8
  }

  mutating func writeMessageHeader(_ field: Int, _ size: Int) {
    precondition(
      position + ProtoWire.tagSize(field) + ProtoWire.varintSize(UInt64(size)) <= capacity, "protobuf writer overrun")
    writeRawVarint(UInt64(field << 3 | 2))
    writeRawVarint(UInt64(size))
  }
}

/// A decision on its way out through gRPC, encoded by ``DecideResponseWriter`` (the bytes of
/// `arbiter.v1.DecideResponse`) instead of being mapped to the generated message first.
struct EncodedDecision: Sendable {
  let decision: Decision
}

/// gRPC's serializer for ``EncodedDecision``.
struct EncodedDecisionSerializer: MessageSerializer {
  func serialize<Bytes: GRPCContiguousBytes>(_ message: EncodedDecision) throws -> Bytes {
    DecideResponseWriter.withSizes(of: message.decision) { size, offers in
      var bytes = Bytes(repeating: 0, count: size)
      bytes.withUnsafeMutableBytes { raw in
        var out = RawProtoWriter(raw)
        DecideResponseWriter.write(message.decision, offers: offers, &out)
        precondition(out.position == size, "DecideResponse of \(out.position) bytes, sized \(size)")
      }
      return bytes
    }
  }
}

/// ``DecisionService`` as the gRPC server registers it: the generated registration, with
/// `Decide` answered through ``EncodedDecisionSerializer``. Clients see the same messages.
package struct DecisionServiceRegistration: RegistrableRPCService {
  let service: DecisionService

  /// Registers `service`'s methods.
  package init(service: DecisionService) { self.service = service }

  package func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
    service.registerMethods(with: &router)
    let service = self.service
    router.registerHandler(
      forMethod: Arbiter_V1_DecisionService.Method.Decide.descriptor,
      deserializer: ProtobufDeserializer<Arbiter_V1_DecideRequest>(),
      serializer: EncodedDecisionSerializer(),
      handler: { request, context in
        let single = try await ServerRequest(stream: request)
        let decision = try service.decision(for: single.message, context: context)
        return StreamingServerResponse(
          single: ServerResponse(message: EncodedDecision(decision: decision), metadata: [:]))
      })
  }
}
