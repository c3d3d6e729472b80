import ArbiterAPI
import ArbiterCore
import ArbiterDecisioning
import GRPCCore

/// `arbiter.v1.ProfileService`: the customer view an agent screen shows.
public struct ProfileService: Arbiter_V1_ProfileService.SimpleServiceProtocol {
  let live: LiveState

  public init(live: LiveState) { self.live = live }

  public func getProfile(request: Arbiter_V1_GetProfileRequest, context: ServerContext) async throws -> Arbiter_V1_CustomerProfile {
    try mappingErrors { () throws(ArbiterError) in
      guard request.customerID != 0 else { throw ArbiterError(.invalidArgument, "customer_id is required") }
      guard request.maxInteractions <= 50 else { throw ArbiterError(.invalidArgument, "max_interactions must be at most 50") }
      let snapshot = live.snapshot
      let engine = snapshot.engine
      let store = engine.customers
      guard let row = store.row(of: request.customerID) else {
        throw ArbiterError(.notFound, "customer \(request.customerID) not found")
      }
      let schema = engine.schema
      let record = store.record(row: row)
      func value(_ name: String) -> Float? { schema.customerIndex(of: name).map { record.values[$0] }.flatMap { $0.isNaN ? nil : $0 } }
      func level(_ name: String) -> String {
        guard let index = schema.customerIndex(of: name), case .categorical(let levels) = schema.customerFeatures[index].kind else { return "" }
        let code = record.values[index]
        return code.isNaN || Int(code) < 0 || Int(code) >= levels.count ? "" : levels[Int(code)]
      }
      let catalogue = snapshot.bundle.catalogue
      let limit = request.maxInteractions == 0 ? 10 : Int(request.maxInteractions)
      return .with {
        $0.customerID = record.id
        $0.displayName = record.displayName
        $0.age = value("age").map { UInt32(max(0, $0)) } ?? 0
        $0.lifeStage = level("life_stage")
        $0.incomeBand = level("income_band")
        $0.riskAppetite = level("risk_appetite")
        $0.tenureYears = value("tenure_years").map(Double.init) ?? 0
        var names: [String: String] = [:]
        for offer in catalogue.offers where names[offer.product] == nil { names[offer.product] = offer.name }
        $0.products = schema.customerFeatures.enumerated().compactMap { index, feature in
          guard feature.name.hasPrefix("holds_"), record.values[index] == 1 else { return nil }
          let product = String(feature.name.dropFirst("holds_".count))
          return .with {
            $0.product = product
            $0.name = names[product] ?? product.replacingOccurrences(of: Character("_"), with: Character(" "))
          }
        }
        $0.consents = Channel.allCases.map { channel in
          .with {
            $0.channel = channel.proto
            $0.granted = catalogue.consentFeatures[channel.name].flatMap { value($0) }.map { $0 == 1 } ?? true
          }
        }
        $0.featureNames = schema.customerFeatures.map(\.name)
        $0.featureValues = record.values.map(Double.init)
        $0.recentInteractions = live.log.recent(customerId: record.id, limit: limit).map { entry in
          .with {
            $0.decisionID = entry.decisionId
            $0.offerID = entry.offerId
            $0.channel = entry.channel.proto
            $0.outcome = entry.outcome?.proto ?? .unspecified
            $0.timestampMillis = entry.timestampMillis
            $0.declineReason = entry.declineReason
          }
        }
        $0.versions = engine.versions.proto
      }
    }
  }

  public func upsertProfiles(request: Arbiter_V1_UpsertProfilesRequest, context: ServerContext) async throws -> Arbiter_V1_UpsertProfilesResponse {
    throw RPCError(
      code: .unimplemented,
      message: "UpsertProfiles needs the writable feature store (issue #3); this server's customer store is read-only")
  }

  public func ingestEvents(
    request: RPCAsyncSequence<Arbiter_V1_CustomerEvent, any Error>, context: ServerContext
  ) async throws -> Arbiter_V1_IngestEventsResponse {
    throw RPCError(
      code: .unimplemented,
      message: "IngestEvents needs the writable feature store with event-derived features (issue #3)")
  }
}

extension String {
  func replacingOccurrences(of target: Character, with replacement: Character) -> String {
    String(map { $0 == target ? replacement : $0 })
  }
}
