import ArbiterAPI
import ArbiterContactCentre
import ArbiterCore
import ArbiterDemoBank
import ArbiterFeatureStore
import ArbiterServer
import Foundation
import GRPCCore
import Testing

/// Consent as a first-class record (per channel and purpose, given or withdrawn, with its time
/// and source; durable with the store; obeyed before scoring) and erasure on request.
@Suite struct ConsentAndErasureTests {
  static let customer: UInt64 = 100_042

  static func change(
    _ customer: UInt64, _ channel: Arbiter_V1_Channel, _ purpose: Arbiter_V1_ConsentPurpose,
    _ state: Arbiter_V1_ConsentState, at millis: Int64 = 0, source: String = "test"
  ) -> Arbiter_V1_ConsentChange {
    .with {
      $0.customerID = customer
      $0.channel = channel
      $0.purpose = purpose
      $0.state = state
      $0.timestampMillis = millis
      $0.source = source
    }
  }

  static func decideRequest(_ customer: UInt64, _ channel: Arbiter_V1_Channel) -> Arbiter_V1_DecideRequest {
    .with {
      $0.customerID = customer
      $0.channel = channel
      $0.maxOffers = 4
      $0.explain = true
    }
  }

  @Test func consentSetPacksEveryChannelAndPurposeApart() {
    var set = ConsentSet.none
    for channel in Channel.allCases {
      for purpose in ConsentPurpose.allCases { #expect(set.state(channel, purpose) == .unrecorded) }
    }
    set.set(.given, .email, .marketing)
    set.set(.withdrawn, .email, .profiling)
    set.set(.given, .sms, .service)
    #expect(set.allows(.email, .marketing) && !set.allows(.email, .profiling) && !set.allows(.email, .service))
    #expect(set.state(.email, .profiling) == .withdrawn)
    #expect(set.allows(.sms, .service) && !set.allows(.sms, .marketing) && !set.allows(.web, .marketing))
    set.set(.withdrawn, .email, .marketing)
    #expect(!set.allows(.email, .marketing) && set.allows(.sms, .service))
  }

  /// Recorded through gRPC and HTTP, shown in the profile, obeyed by the next decision; what is
  /// never recorded is not consented.
  @Test func decisionsObeyConsentRecordedThroughTheAPI() async throws {
    let server = try TestSupport.makeServer(customers: 300)
    let http = HTTPTestClient(api: server.httpAPI)
    try await withInProcessClient(server) { client in
      let decisions = Arbiter_V1_DecisionService.Client(wrapping: client)
      let profiles = Arbiter_V1_ProfileService.Client(wrapping: client)
      let id = Self.customer
      let base = Int64(Date().timeIntervalSince1970 * 1_000) - 600_000
      let given = try await profiles.recordConsents(
        .with {
          $0.changes = [
            Self.change(id, .contactCentre, .marketing, .given, at: base, source: "contact-centre"),
            Self.change(id, .contactCentre, .profiling, .given, at: base, source: "contact-centre"),
          ]
        })
      #expect(given.recorded == 2 && given.rejected == 0)
      let offered = try await decisions.decide(Self.decideRequest(id, .contactCentre))
      #expect(!offered.offers.isEmpty)
      #expect(!offered.suppressed.contains { $0.code == "NO_CONSENT" && $0.offerID != "digital-banking-onboarding" })

      // Withdrawn (a minute later): no marketing offer, each suppressed naming the withdrawal.
      let later = base + 60_000
      let withdrawn = try await profiles.recordConsents(
        .with { $0.changes = [Self.change(id, .contactCentre, .marketing, .withdrawn, at: later, source: "web-form")] })
      #expect(withdrawn.recorded == 1)
      let refused = try await decisions.decide(Self.decideRequest(id, .contactCentre))
      let marketing = server.live.snapshot.engine.catalogue.offers.filter { $0.definition.purpose == .marketing }
      #expect(refused.offers.allSatisfy { offer in !marketing.contains { $0.definition.id == offer.offerID } })
      let noConsent = refused.suppressed.filter { $0.code == "NO_CONSENT" }
      #expect(noConsent.count >= marketing.filter { $0.definition.channels.contains(.contactCentre) }.count)
      #expect(noConsent.contains { $0.detail == "marketing consent for contact-centre withdrawn" })

      let profile = try await profiles.getProfile(.with { $0.customerID = id })
      let shown = try #require(profile.consents.first { $0.channel == .contactCentre && $0.purpose == .marketing })
      #expect(shown.state == .withdrawn && !shown.granted && shown.source == "web-form")
      #expect(shown.timestampMillis == later)

      // A copy older than the withdrawal is refused, naming it, and so is an unknown customer;
      // the rest of the batch is recorded.
      let stale = try await profiles.recordConsents(
        .with {
          $0.changes = [
            Self.change(id, .contactCentre, .marketing, .given, at: later - 1_000),
            Self.change(99, .web, .marketing, .given),
            Self.change(id, .email, .service, .given, at: later),
          ]
        })
      #expect(stale.recorded == 1 && stale.rejected == 2)
      #expect(stale.errors.contains { $0.hasPrefix("changes[0]") && $0.contains("is older than the one recorded") })
      #expect(stale.errors.contains { $0.hasPrefix("changes[1]") && $0.contains("customer 99 not found") })
      // A change malformed on the wire refuses the whole request, naming the change and field.
      let malformed: [(Arbiter_V1_ConsentChange, String)] = [
        (Self.change(id, .web, .unspecified, .given), "changes[1].purpose is required (marketing, service or profiling)"),
        (Self.change(id, .web, .marketing, .unspecified), "changes[1].state is required (given or withdrawn)"),
        (Self.change(id, .unspecified, .marketing, .given), "changes[1].channel is required"),
        (Self.change(0, .web, .marketing, .given), "changes[1].customer_id is required"),
        (Self.change(id, .web, .marketing, .given, source: ""), "changes[1].source is empty"),
        (Self.change(id, .web, .marketing, .given, source: String(repeating: "é", count: 65)),
         "changes[1].source is longer than 64 characters"),
        (Self.change(id, .web, .marketing, .given, source: "a\u{7}b"), "changes[1].source has a control character"),
        (Self.change(id, .web, .marketing, .given, at: 10_000_000_000_000), "changes[1].timestamp_millis 10000000000000 is past"),
      ]
      for (change, message) in malformed {
        await expectStatus(.invalidArgument, containing: message) {
          _ = try await profiles.recordConsents(
            .with { $0.changes = [Self.change(id, .web, .marketing, .given), change] })
        }
      }
      let unchanged = try await profiles.getProfile(.with { $0.customerID = id })
      #expect(!unchanged.consents.contains { $0.channel == .web && $0.source == "test" })
      await expectStatus(.invalidArgument, containing: "at least one consent change") {
        _ = try await profiles.recordConsents(.init())
      }

      // Given again through HTTP: offers again.
      let body = """
        {"changes":[{"customerId":"\(id)","channel":"CHANNEL_CONTACT_CENTRE","purpose":"CONSENT_PURPOSE_MARKETING",
        "state":"CONSENT_STATE_GIVEN","source":"branch-form"}]}
        """
      let answer = try await http.post("/v1/consents", body)
      #expect(answer.status == 200, "\(answer.text)")
      #expect(answer.json["recorded"] as? Int == 1)
      let again = try await decisions.decide(Self.decideRequest(id, .contactCentre))
      #expect(!again.offers.isEmpty)
      let bad = try await http.post(
        "/v1/consents", #"{"changes":[{"customerId":"1","channel":"CHANNEL_WEB","source":"x"}]}"#)
      #expect(bad.status == 400)
      #expect(bad.json["message"] as? String == "changes[0].purpose is required (marketing, service or profiling)")
    }
  }

  /// Without profiling consent on the channel a decision sees none of the stored features: an
  /// offer with an age band is not made (the age is unknown).
  @Test func withoutProfilingConsentNoStoredFeatureIsUsed() async throws {
    let server = try TestSupport.makeServer(customers: 300)
    try await withInProcessClient(server) { client in
      let decisions = Arbiter_V1_DecisionService.Client(wrapping: client)
      let profiles = Arbiter_V1_ProfileService.Client(wrapping: client)
      let id = Self.customer
      let base = Int64(Date().timeIntervalSince1970 * 1_000) - 600_000
      _ = try await profiles.recordConsents(
        .with { $0.changes = [Self.change(id, .contactCentre, .marketing, .given, at: base)] })
      let profiled = try await decisions.decide(Self.decideRequest(id, .contactCentre))
      #expect(!profiled.suppressed.contains { $0.detail.contains("age unknown") })
      let later = base + 60_000
      _ = try await profiles.recordConsents(
        .with { $0.changes = [Self.change(id, .contactCentre, .profiling, .withdrawn, at: later)] })
      let unprofiled = try await decisions.decide(Self.decideRequest(id, .contactCentre))
      #expect(unprofiled.suppressed.contains { $0.code == "AGE_RULE" && $0.detail.contains("age unknown") })
      #expect(unprofiled.offers.count < 4 || unprofiled.offers != profiled.offers)
    }
  }

  /// Consents are logged with every other change and kept in snapshots: they survive a restart
  /// from the log, from a snapshot, and from a snapshot of format 2 (before consents) plus log.
  @Test func consentsAndErasuresSurviveRestarts() throws {
    let directory = try TestSupport.temporaryDirectory()
    let schema = DemoBankSchema.schema
    let population = DemoPopulation(seed: 7)
    let records = (0..<40).map { population.customer(number: $0) }
    let now = Int64(Date().timeIntervalSince1970 * 1_000)
    func consent(_ id: UInt64, _ channel: Channel, _ state: ConsentState, _ source: String) -> ConsentChange {
      ConsentChange(
        customerId: id,
        record: ConsentRecord(channel: channel, purpose: .marketing, state: state, timestampMillis: now, source: source))
    }
    do {
      let store = try FeatureStore.open(directory: directory, schema: schema, policy: .always)
      _ = try store.upsert(records)
      let result = store.recordConsents([
        consent(records[0].id, .email, .given, "web"), consent(records[1].id, .sms, .withdrawn, "csv:crm.csv"),
      ])
      #expect(result.recorded == 2)
      store.close()
    }
    func expectConsents(_ store: FeatureStore, erased: Bool = false) throws {
      let row0 = try #require(store.row(of: records[0].id))
      #expect(store.consents(row: row0).allows(.email, .marketing))
      #expect(store.consentRecords(of: records[0].id).map(\.source) == ["web"])
      if erased {
        #expect(store.row(of: records[1].id) == nil)
        #expect(store.consentRecords(of: records[1].id).isEmpty)
        #expect(store.customerCount == records.count - 1)
      } else {
        let row1 = try #require(store.row(of: records[1].id))
        #expect(store.consents(row: row1).state(.sms, .marketing) == .withdrawn)
        #expect(store.consentRecords(of: records[1].id).first?.source == "csv:crm.csv")
      }
    }
    do {  // from the log
      let store = try FeatureStore.open(directory: directory, schema: schema, policy: .always)
      try expectConsents(store)
      _ = try store.writeSnapshot()
      store.close()
    }
    do {  // from the snapshot; then an erasure, logged
      let store = try FeatureStore.open(directory: directory, schema: schema, policy: .always)
      try expectConsents(store)
      let erased = store.erase(customerId: records[1].id)
      #expect(erased.profileRemoved && erased.consentsRemoved == 1)
      try expectConsents(store, erased: true)
      store.close()
    }
    do {  // the erasure replayed from the log, then a snapshot without the customer
      let store = try FeatureStore.open(directory: directory, schema: schema, policy: .always)
      try expectConsents(store, erased: true)
      _ = try store.writeSnapshot()
      store.close()
    }
    let store = try FeatureStore.open(directory: directory, schema: schema, policy: .always)
    try expectConsents(store, erased: true)
    #expect(store.customerIds().count == records.count - 1)
    store.close()
  }

  /// Erasure through each door: afterwards nothing of the customer can be read back, not
  /// through the API, nor in the store's files, nor in the interaction log; the audit log names
  /// the erasure, not the customer.
  @Test func erasureLeavesNothingOfTheCustomerReadable() async throws {
    let directory = try TestSupport.temporaryDirectory()
    let logPath = directory + "/interactions.jsonl"
    let auditPath = directory + "/audit.jsonl"
    let storeDirectory = directory + "/store"
    let server = try TestSupport.makeServer(customers: 300, logPath: logPath, storeDirectory: storeDirectory) {
      $0.access.auditLog = auditPath
    }
    let http = HTTPTestClient(api: server.httpAPI)
    let id = Self.customer, other: UInt64 = 100_043
    let reason = "declined-because-of-something-personal-\(UInt64.random(in: 1...UInt64.max))"
    let name = try await withInProcessClient(server) { client in
      let decisions = Arbiter_V1_DecisionService.Client(wrapping: client)
      let profiles = Arbiter_V1_ProfileService.Client(wrapping: client)
      let admin = Arbiter_V1_AdminService.Client(wrapping: client)
      _ = try await profiles.recordConsents(
        .with { $0.changes = [Self.change(id, .contactCentre, .marketing, .given, source: "erasure-test")] })
      let decision = try await decisions.decide(Self.decideRequest(id, .contactCentre))
      let offer = try #require(decision.offers.first)
      _ = try await decisions.recordOutcomes(
        .with {
          $0.outcomes = [
            .with {
              $0.decisionID = decision.decisionID
              $0.offerID = offer.offerID
              $0.outcome = .decline
              $0.declineReason = reason
            }
          ]
        })
      _ = try await decisions.decide(Self.decideRequest(other, .contactCentre))
      let name = try await profiles.getProfile(.with { $0.customerID = id }).displayName
      server.live.log.flush()
      // A call of theirs waits for an agent (none is connected), another customer's too.
      for caller in [id, other] {
        _ = try server.contactCentre.enqueue(
          QueuedCall(
            id: server.contactCentre.makeCallId(), customerId: caller, origin: .inbound, phoneNumber: "+44 20 7946 0000",
            queuedAtMillis: 0))
      }

      let erased = try await admin.eraseCustomer(
        .with {
          $0.customerID = id
          $0.reference = "case-77"
        })
      #expect(erased.profileRemoved && erased.consentsRemoved >= 1)
      #expect(erased.logLinesAnonymised >= 2 && erased.historyEntriesRemoved >= 2)
      #expect(erased.erasureID.hasPrefix("erasure-"))
      #expect(server.contactCentre.status().callsWaiting == 1, "the erased customer's call is withdrawn, not the other's")

      await expectStatus(.notFound, containing: "customer \(id) not found") {
        _ = try await profiles.getProfile(.with { $0.customerID = id })
      }
      await expectStatus(.notFound, containing: "customer \(id) not found") {
        _ = try await decisions.decide(Self.decideRequest(id, .contactCentre))
      }
      // An outcome of the erased customer's decision is still taken, anonymously.
      let late = try await decisions.recordOutcomes(
        .with {
          $0.outcomes = [
            .with {
              $0.decisionID = decision.decisionID
              $0.offerID = offer.offerID
              $0.outcome = .impression
            }
          ]
        })
      #expect(late.recorded == 1)
      // Erasing again finds nothing; another customer is untouched.
      let again = try await admin.eraseCustomer(.with { $0.customerID = id })
      #expect(!again.profileRemoved && again.consentsRemoved == 0)
      _ = try await profiles.getProfile(.with { $0.customerID = other })
      return name
    }
    server.live.log.flush()

    // The store's files: the snapshot written by the erasure and the log after it.
    let idBytes = withUnsafeBytes(of: id.littleEndian) { Array($0) }
    for file in try FileManager.default.contentsOfDirectory(atPath: storeDirectory) {
      let bytes = try #require(FileManager.default.contents(atPath: storeDirectory + "/" + file))
      #expect(Self.find(Array(name.utf8), in: bytes) == nil, "\(file) holds the customer's name")
      #expect(Self.find(idBytes, in: bytes) == nil, "\(file) holds the customer's id")
    }
    // The interaction log: the customer's lines are anonymous, the other customer's intact.
    let log = try String(contentsOfFile: logPath, encoding: .utf8)
    #expect(!log.contains("\"customer_id\":\(id)"))
    #expect(!log.contains(reason))
    #expect(log.contains("\"customer_id\":\(other)"))
    #expect(log.components(separatedBy: "\"customer_id\":0,").count - 1 >= 3)
    // The audit log names the erasure and the reference, never the customer.
    let audit = try String(contentsOfFile: auditPath, encoding: .utf8)
    #expect(audit.contains("EraseCustomer") && audit.contains("case-77"))
    #expect(audit.contains("1 queued call forgotten"))
    #expect(!audit.contains(String(id)))

    // Through HTTP: the other customer, with the admin route; a bad id is named.
    let byHTTP = try await http.call(.delete, "/v1/customers/\(other)?reference=case-78")
    #expect(byHTTP.status == 200, "\(byHTTP.text)")
    #expect(byHTTP.json["profileRemoved"] as? Bool == true)
    let badId = try await http.call(.delete, "/v1/customers/x1")
    #expect(badId.status == 400 && badId.text.contains("customerId: 'x1' is not a customer id"))
  }

  /// Roles: recording consent needs `profile-write`, erasure `admin`, on every door.
  @Test func consentNeedsProfileWriteAndErasureNeedsAdmin() async throws {
    let server = try TestSupport.makeServer(customers: 300) { $0.access = AccessTests.configuration() }
    let http = HTTPTestClient(api: server.httpAPI)
    let web: Metadata = ["authorization": "Bearer \(AccessTests.decideKey)"]
    try await withInProcessClient(server) { client in
      let profiles = Arbiter_V1_ProfileService.Client(wrapping: client)
      let admin = Arbiter_V1_AdminService.Client(wrapping: client)
      await expectStatus(.permissionDenied, containing: "profile-write") {
        _ = try await profiles.recordConsents(
          .with { $0.changes = [Self.change(Self.customer, .web, .marketing, .given)] }, metadata: web)
      }
      await expectStatus(.permissionDenied, containing: "admin") {
        _ = try await admin.eraseCustomer(.with { $0.customerID = Self.customer }, metadata: web)
      }
      await expectStatus(.unauthenticated, containing: "no credentials") {
        _ = try await admin.eraseCustomer(.with { $0.customerID = Self.customer })
      }
    }
    let refused = try await http.call(
      .delete, "/v1/customers/\(Self.customer)", headers: [.authorization: "Bearer \(AccessTests.decideKey)"])
    #expect(refused.status == 403)
    let anonymous = try await http.post("/v1/consents", #"{"changes":[]}"#)
    #expect(anonymous.status == 401)
    #expect(server.live.snapshot.engine.customers.row(of: Self.customer) != nil)
  }

  @Test func consentCSVIsReadNamingLineAndColumn() throws {
    let text = """
      customer_id,channel,purpose,state,timestamp,source
      100042,email,marketing,given,2026-12-01T09:30:00Z,
      100043,mobile_app,profiling,withdrawn,1764581400000,app-settings
      """
    let changes = try ConsentCSV.changes(
      in: try CSVTable(text: text, file: "c.csv"), file: "c.csv", defaultSource: "csv:c.csv", nowMillis: 5)
    #expect(changes.count == 2)
    #expect(changes[0].record.timestampMillis == 1_796_117_400_000 && changes[0].record.source == "csv:c.csv")
    #expect(changes[1].record.channel == .mobileApp && changes[1].record.state == .withdrawn)
    #expect(changes[1].record.source == "app-settings")
    func refusal(_ row: String) -> String? {
      do {
        _ = try ConsentCSV.changes(
          in: try CSVTable(text: "customer_id,channel,purpose,state\n" + row, file: "c.csv"), file: "c.csv",
          defaultSource: "x", nowMillis: 0)
        return nil
      } catch { return error.message }
    }
    #expect(refusal("0,email,marketing,given") == "c.csv:2: customer_id '0' is not a customer id")
    #expect(refusal("1,fax,marketing,given")?.hasPrefix("c.csv:2: channel 'fax' is not one of web") == true)
    #expect(refusal("1,email,sales,given") == "c.csv:2: purpose 'sales' is not marketing, service or profiling")
    #expect(refusal("1,email,marketing,maybe") == "c.csv:2: state 'maybe' is not given or withdrawn")
    #expect(throws: ArbiterError.self) {
      _ = try ConsentCSV.changes(
        in: try CSVTable(text: "customer_id,channel,state\n1,email,given", file: "c.csv"), file: "c.csv",
        defaultSource: "x", nowMillis: 0)
    }
  }

  @Test func aCatalogueThatStillNamesConsentFeaturesIsRefused() throws {
    let path = TestSupport.demoBundlePath + "/1/catalogue.json"
    var json = try #require(
      try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
    json["consentFeatures"] = ["email": "consent_email"]
    let data = try JSONSerialization.data(withJSONObject: json)
    #expect(throws: (any Error).self) { _ = try JSONDecoder().decode(CatalogueDocument.self, from: data) }
    json["consentFeatures"] = nil
    _ = try JSONDecoder().decode(CatalogueDocument.self, from: try JSONSerialization.data(withJSONObject: json))
  }

  static func find(_ needle: [UInt8], in haystack: Data) -> Int? {
    guard let first = needle.first, haystack.count >= needle.count else { return nil }
    let bytes = [UInt8](haystack)
    var i = 0
    while i <= bytes.count - needle.count {
      if bytes[i] == first, Array(bytes[i..<(i + needle.count)]) == needle { return i }
      i += 1
    }
    return nil
  }
}

/// Consent and erasure over the lean protocol, on a real socket, with credentials: a key without
/// the role is refused before any work; with it, the consent is recorded and obeyed, and the
/// erasure is done and audited under the lean door.
@Suite struct LeanConsentAndErasureTests {
  /// Runs blocking work on a Dispatch thread and waits for it without holding a pool thread.
  static func onDispatchThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
      DispatchQueue.global().async { continuation.resume(with: Result { try body() }) }
    }
  }

  @Test(.timeLimit(.minutes(2))) func consentAndErasureOverTheLeanProtocol() async throws {
    let auditPath = try TestSupport.temporaryDirectory() + "/audit.jsonl"
    let server = try TestSupport.makeServer(customers: 300) {
      $0.access = AccessTests.configuration()
      $0.access.auditLog = auditPath
    }
    try await withThrowingTaskGroup(of: Void.self) { group in
      group.addTask { try await server.runLeanServer(port: 0) }
      let port = try await TestSupport.leanPort(of: server)
      let record = "/arbiter.v1.ProfileService/RecordConsents"
      let erase = "/arbiter.v1.AdminService/EraseCustomer"
      let id = ConsentAndErasureTests.customer
      let consent: [UInt8] = try Arbiter_V1_RecordConsentsRequest.with {
        $0.changes = [ConsentAndErasureTests.change(id, .sms, .marketing, .withdrawn, source: "lean-test")]
      }.serializedBytes()
      let erasure: [UInt8] = try Arbiter_V1_EraseCustomerRequest.with {
        $0.customerID = id
        $0.reference = "case-lean"
      }.serializedBytes()

      // The conversation blocks on its socket: it runs on a Dispatch thread, so that the
      // concurrency pool (two threads here) stays free for the server's pooled methods.
      struct Seen: Sendable {
        var webStatuses: [Int] = []
        var adminStatuses: [Int] = []
        var recorded: Arbiter_V1_RecordConsentsResponse?
        var erased: Arbiter_V1_EraseCustomerResponse?
        var messages: [String] = []
      }
      let seen = try await Self.onDispatchThread { () throws -> Seen in
        var seen = Seen()
        let web = try LeanTestClient(port: port)
        web.send(LeanTestClient.hello(AccessTests.decideKey))
        web.send(LeanTestClient.frame(stream: 1, method: record, message: consent))
        web.send(LeanTestClient.frame(stream: 2, method: erase, message: erasure))
        for _ in 0..<3 { seen.webStatuses.append(try web.read()?.status ?? -1) }
        let admin = try LeanTestClient(port: port)
        admin.send(LeanTestClient.hello(AccessTests.adminKey))
        seen.adminStatuses.append(try admin.read()?.status ?? -1)
        admin.send(LeanTestClient.frame(stream: 1, method: record, message: consent))
        if let answer = try admin.read() {
          seen.adminStatuses.append(answer.status)
          seen.messages.append(answer.message)
          seen.recorded = try? Arbiter_V1_RecordConsentsResponse(serializedBytes: answer.body)
        }
        admin.send(LeanTestClient.frame(stream: 2, method: erase, message: erasure))
        if let answer = try admin.read() {
          seen.adminStatuses.append(answer.status)
          seen.messages.append(answer.message)
          seen.erased = try? Arbiter_V1_EraseCustomerResponse(serializedBytes: answer.body)
        }
        return seen
      }
      // The decide key: its hello accepted, both calls PERMISSION_DENIED before any work.
      #expect(seen.webStatuses == [0, 7, 7])
      #expect(seen.adminStatuses == [0, 0, 0], "\(seen.messages)")
      #expect(seen.recorded?.recorded == 1)
      let answer = try #require(seen.erased)
      #expect(answer.profileRemoved && answer.consentsRemoved > 0)
      #expect(server.store.row(of: id) == nil)
      let audit = try String(contentsOfFile: auditPath, encoding: .utf8)
      #expect(audit.contains("\"door\":\"lean\"") && audit.contains(answer.erasureID))
      #expect(audit.contains("PERMISSION_DENIED"))
      group.cancelAll()
    }
  }
}
