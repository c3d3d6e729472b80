import ArbiterAPI
import ArbiterAccess
import ArbiterCore
import ArbiterDecisioning
import GRPCCore

/// Erasure on request, audited under the erasure's id (the customer's id is kept nowhere).
extension AdminService {
  /// The longest reference an erasure request may carry, in characters.
  static let maxErasureReferenceCharacters = 128

  /// `EraseCustomer`: see ``erase(_:by:door:)``.
  public func eraseCustomer(
    request: Arbiter_V1_EraseCustomerRequest, context: ServerContext
  ) async throws -> Arbiter_V1_EraseCustomerResponse {
    do { return try await erase(request, by: Principal.current, door: "grpc") } catch { throw RPCError(error) }
  }

  /// EraseCustomer without a transport: erases the customer (``LiveState/erase(customerId:erasureId:)``)
  /// and writes the audit entry, under a new erasure id and the requester's reference, before
  /// answering.
  package func erase(
    _ request: Arbiter_V1_EraseCustomerRequest, by principal: Principal?, door: String
  ) async throws(ArbiterError) -> Arbiter_V1_EraseCustomerResponse {
    guard request.customerID != 0 else { throw ArbiterError(.invalidArgument, "customer_id is required") }
    guard request.reference.unicodeScalars.count <= Self.maxErasureReferenceCharacters else {
      throw ArbiterError(
        .invalidArgument, "reference is longer than \(Self.maxErasureReferenceCharacters) characters")
    }
    guard !request.reference.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
      throw ArbiterError(.invalidArgument, "reference has a control character")
    }
    let erasureId = "erasure-" + String(UInt64.random(in: 1...UInt64.max), radix: 16)
    let target = request.reference.isEmpty ? erasureId : "\(erasureId) ref \(request.reference)"
    let action = "\(Arbiter_V1_AdminService.Method.EraseCustomer.descriptor)"
    do {
      let report = try await live.erase(customerId: request.customerID, erasureId: erasureId)
      audit?.record(
        AuditLog.Entry(
          principal: principal, door: door, action: action, target: target, result: "OK",
          message: "profile \(report.profileRemoved ? "removed" : "not held"), \(report.consentsRemoved) consent(s) "
            + "removed, \(report.logLinesAnonymised) log line(s) anonymised"
            + report.othersForgotten.map { ", \($0) forgotten" }.joined()))
      logger.info("customer erased", metadata: ["erasure": "\(erasureId)"])
      return .with {
        $0.erasureID = erasureId
        $0.profileRemoved = report.profileRemoved
        $0.consentsRemoved = UInt32(report.consentsRemoved)
        $0.logLinesAnonymised = UInt64(report.logLinesAnonymised)
        $0.historyEntriesRemoved = UInt32(report.historyEntriesRemoved)
      }
    } catch {
      let status = RPCError(error)
      audit?.record(
        AuditLog.Entry(
          principal: principal, door: door, action: action, target: target, result: status.code.canonicalName,
          message: status.message))
      throw error
    }
  }
}
