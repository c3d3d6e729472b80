import ArbiterAPI
import ArbiterCore
import ArbiterDecisioning
import ArbiterFeatureStore
import Foundation
import GRPCCore

/// `arbiter.v1.ProfileService`: the customer view an agent screen shows.
public struct ProfileService: Arbiter_V1_ProfileService.SimpleServiceProtocol {
  let live: LiveState

  /// The profile service over the live state.
  public init(live: LiveState) { self.live = live }

  /// `GetProfile`: the agent's view of a customer (see ``profile(_:)``).
  public func getProfile(
    request: Arbiter_V1_GetProfileRequest, context: ServerContext
  ) async throws -> Arbiter_V1_CustomerProfile {
    try mappingErrors { () throws(ArbiterError) in try profile(request) }
  }

  /// GetProfile without a transport: the customer as the schema says an agent sees them (its
  /// `profile` entries), the consents, every feature value, and the recent interactions.
  package func profile(_ request: Arbiter_V1_GetProfileRequest) throws(ArbiterError) -> Arbiter_V1_CustomerProfile {
    guard request.customerID != 0 else { throw ArbiterError(.invalidArgument, "customer_id is required") }
    guard request.maxInteractions <= 50 else {
      throw ArbiterError(.invalidArgument, "max_interactions must be at most 50")
    }
    let snapshot = live.snapshot
    let engine = snapshot.engine
    let store = engine.customers
    guard let row = store.row(of: request.customerID) else {
      throw ArbiterError(.notFound, "customer \(request.customerID) not found")
    }
    let schema = engine.schema
    var record = store.record(row: row, id: request.customerID)
    record.values.withUnsafeMutableBufferPointer { store.read(row: row, into: $0, nowDays: engine.clock()) }
    let values = record.values
    let limit = request.maxInteractions == 0 ? 10 : Int(request.maxInteractions)
    return .with {
      $0.customerID = record.id
      $0.displayName = record.displayName
      for (index, feature) in schema.customerFeatures.enumerated() {
        guard let profile = feature.profile else { continue }
        if let product = profile.product {
          if values[index] == 1 {
            $0.products.append(
              .with {
                $0.product = product; $0.name = profile.label
              })
          }
        } else {
          $0.attributes.append(Self.attribute(feature, label: profile.label, value: values[index]))
        }
      }
      $0.consents = Self.consents(of: record.id, in: store)
      $0.featureNames = schema.customerFeatures.map(\.name)
      $0.featureValues = values.map(Double.init)
      $0.recentInteractions = live.log.recent(customerId: record.id, limit: limit).map(\.proto)
      $0.versions = engine.versions.proto
    }
  }

  /// A feature as the agent reads it: a categorical's level, yes or no, or the number.
  static func attribute(_ feature: FeatureDefinition, label: String, value: Float) -> Arbiter_V1_ProfileAttribute {
    .with {
      $0.feature = feature.name
      $0.label = label
      $0.number = Double(value)
      guard !value.isNaN else { return }
      switch feature.kind {
      case .categorical(let levels):
        let code = Int(exactly: value.rounded()) ?? -1
        $0.value = levels.indices.contains(code) ? levels[code] : ""
      case .boolean: $0.value = value == 1 ? "yes" : "no"
      case .numeric:
        $0.value =
          value == value.rounded() && abs(value) < 1e9 ? String(Int64(value)) : String(format: "%.2f", Double(value))
      }
    }
  }

  /// Stores whole vectors given as GetProfile returns them and CSV import reads them: as read at
  /// the server's clock (days since, flags, trends; the clock as days since the newest event).
  public func upsertProfiles(
    request: Arbiter_V1_UpsertProfilesRequest, context: ServerContext
  ) async throws -> Arbiter_V1_UpsertProfilesResponse {
    let snapshot = live.snapshot
    let store = snapshot.engine.customers
    let result = try mappingErrors { () throws(ArbiterError) -> UpsertResult in
      guard !request.profiles.isEmpty else {
        throw ArbiterError(.invalidArgument, "profiles: at least one profile is required")
      }
      guard request.profiles.count <= 100_000 else {
        throw ArbiterError(.invalidArgument, "profiles: at most 100000 per request, got \(request.profiles.count)")
      }
      if !request.schemaHash.isEmpty && request.schemaHash != snapshot.bundle.manifest.schemaHash {
        throw ArbiterError(
          .failedPrecondition,
          "schema_hash \(request.schemaHash.prefix(12))… does not match the live schema "
            + "\(snapshot.bundle.manifest.schemaHash.prefix(12))…"
        )
      }
      let records = request.profiles.map { profile in
        CustomerRecord(
          id: profile.customerID, displayName: profile.displayName, values: profile.featureValues.map { Float($0) })
      }
      return try store.upsert(records, asOfDays: snapshot.engine.clock())
    }
    try await store.waitDurable(result.lsn)
    return .with {
      $0.inserted = UInt32(result.inserted)
      $0.updated = UInt32(result.updated)
      $0.rejected = UInt32(result.rejected)
      $0.errors = result.errors
    }
  }

  /// `IngestEvents`: applies each batch of events and acknowledges it once it is durable.
  public func ingestEvents(
    request: RPCAsyncSequence<Arbiter_V1_EventBatch, any Error>, response: RPCWriter<Arbiter_V1_IngestAck>,
    context: ServerContext
  ) async throws {
    let store = live.snapshot.engine.customers
    var totalAccepted: UInt64 = 0
    var totalRejected: UInt64 = 0
    var events: [CustomerEvent] = []
    for try await batch in request {
      let latest = store.latestEventMillis()
      guard batch.events.count <= 100_000 else {
        throw RPCError(
          code: .invalidArgument, message: "a batch holds at most 100000 events, got \(batch.events.count)")
      }
      events.removeAll(keepingCapacity: true)
      var errors: [String] = []
      var rejected = 0
      for (i, event) in batch.events.enumerated() {
        if let problem = Self.problem(with: event) {
          rejected += 1
          if errors.count < 10 { errors.append("events[\(i)]: \(problem)") }
          continue
        }
        if let problem = store.eventTimeProblem(millis: event.timestampMillis, latest: latest) {
          rejected += 1
          if errors.count < 10 { errors.append("events[\(i)].timestamp_millis \(event.timestampMillis) \(problem)") }
          continue
        }
        events.append(
          CustomerEvent(
            customerId: event.customerID, kind: Self.kind(event.kind)!,
            timestampMillis: event.timestampMillis == 0
              ? Int64(Date().timeIntervalSince1970 * 1000) : event.timestampMillis,
            amount: event.amount, channel: Self.channel(event.transactionChannel)!))
      }
      let result = store.apply(events)
      try await store.waitDurable(result.lsn)
      rejected += result.rejected
      errors.append(contentsOf: result.errors.prefix(max(0, 10 - errors.count)))
      totalAccepted += UInt64(result.accepted)
      totalRejected += UInt64(rejected)
      try await response.write(
        .with {
          $0.accepted = UInt32(result.accepted)
          $0.rejected = UInt32(rejected)
          $0.errors = errors
          $0.totalAccepted = totalAccepted
          $0.totalRejected = totalRejected
        })
    }
  }

  static func kind(_ kind: Arbiter_V1_EventKind) -> CustomerEvent.Kind? {
    switch kind {
    case .transaction: .transaction
    case .pageView: .pageView
    case .call: .call
    case .transfer: .transfer
    default: nil
    }
  }

  static func channel(_ channel: Arbiter_V1_TransactionChannel) -> CustomerEvent.TransactionChannel? {
    switch channel {
    case .unspecified: CustomerEvent.TransactionChannel.none
    case .atm: .atm
    case .branch: .branch
    case .card: .card
    case .online: .online
    case .phone: .phone
    case .UNRECOGNIZED: nil
    }
  }

  static func problem(with event: Arbiter_V1_CustomerEvent) -> String? {
    if event.customerID == 0 { return "customer_id is required" }
    if kind(event.kind) == nil {
      return event.kind == .unspecified ? "kind is required" : "unknown kind \(event.kind.rawValue)"
    }
    if channel(event.transactionChannel) == nil {
      return "unknown transaction_channel \(event.transactionChannel.rawValue)"
    }
    if !event.amount.isFinite { return "amount is not finite" }
    if event.timestampMillis < 0 { return "timestamp_millis is negative" }
    return nil
  }
}

extension InteractionEntry {
  /// The wire record of a history entry.
  var proto: Arbiter_V1_InteractionRecord {
    .with {
      $0.decisionID = decisionId
      $0.offerID = offerId
      $0.channel = channel.proto
      $0.outcome = outcome?.proto ?? .unspecified
      $0.timestampMillis = timestampMillis
      $0.declineReason = declineReason
    }
  }
}
