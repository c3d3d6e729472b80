import ArbiterAPI
import ArbiterAccess
import ArbiterCore
import ArbiterDecisioning
import ArbiterModels
import Foundation
import GRPCCore
import Logging

/// `arbiter.v1.AdminService`: what is live, and reloading it.
public struct AdminService: Arbiter_V1_AdminService.SimpleServiceProtocol {
  let live: LiveState
  let logger: Logger
  /// Where reloads and challenger changes are audited (who, what, when, result).
  let audit: AuditLog?

  /// The admin service over `live`; reloads and challengers are logged to `logger` and written
  /// to `audit`.
  public init(live: LiveState, logger: Logger, audit: AuditLog? = nil) {
    self.live = live
    self.logger = logger
    self.audit = audit
  }

  /// Runs an admin action and writes its audit entry (who asked through which door, what on,
  /// and how it ended) before answering.
  package func audited<Result>(
    _ method: MethodDescriptor, target: String, by principal: Principal?, door: String,
    _ action: () throws(ArbiterError) -> Result
  ) throws(ArbiterError) -> Result {
    do {
      let result = try action()
      audit?.record(AuditLog.Entry(principal: principal, door: door, action: "\(method)", target: target, result: "OK"))
      return result
    } catch {
      let status = RPCError(error)
      audit?.record(
        AuditLog.Entry(
          principal: principal, door: door, action: "\(method)", target: target, result: status.code.canonicalName,
          message: status.message))
      throw error
    }
  }

  /// `GetStatus`: the live bundle, catalogue, models, customers and counters.
  public func getStatus(
    request: Arbiter_V1_GetStatusRequest, context: ServerContext
  ) async throws -> Arbiter_V1_ServerStatus {
    status()
  }

  /// GetStatus without a transport.
  package func status() -> Arbiter_V1_ServerStatus {
    let snapshot = live.snapshot
    let counts = live.log.counts
    return .with {
      $0.versions = snapshot.engine.versions.proto
      $0.bundlePath = snapshot.bundle.directory ?? ""
      $0.loadedAtMillis = snapshot.loadedAtMillis
      $0.customers = UInt64(snapshot.engine.customers.customerCount)
      $0.offers = UInt32(snapshot.engine.catalogue.offers.count)
      $0.models = snapshot.engine.catalogue.offers.map { offer in
        .with {
          $0.offerID = offer.definition.id
          $0.kind = offer.model.kind
          $0.terms = UInt32(offer.model.size)
          $0.holdoutAuc = offer.model.holdoutAUC ?? .nan
        }
      }
      $0.featureNames = snapshot.engine.schema.customerFeatures.map(\.name)
      $0.decisionsServed = counts.decisions
      $0.outcomesRecorded = counts.outcomes
      $0.challenger = challengerStatus()
      $0.adaptive = adaptiveStatus()
    }
  }

  /// The adaptive models and what they learnt.
  package func adaptiveStatus() -> Arbiter_V1_AdaptiveStatus {
    guard let models = live.adaptiveModels else { return .init() }
    let counts = live.adaptiveLearner.counts
    return .with {
      $0.enabled = true
      $0.models = models.models.map { model in
        .with {
          $0.key = model.key
          $0.prior = model.prior.rawValue
          $0.updates = model.posterior.updates
          $0.positives = model.posterior.positives
          $0.intercept = model.posterior.mean[0]
          $0.logOddsWeight = model.posterior.mean[1]
          $0.interceptDeviation = model.posterior.variance[0].squareRoot()
        }
      }
      $0.responses = counts.responses
      $0.declines = counts.declines
      $0.expired = counts.expired
      $0.unknown = counts.unknown
      $0.lost = counts.lost
      $0.refused = counts.refused + models.refusedCount
      $0.pending = UInt64(live.adaptiveLearner.pendingCount)
    }
  }

  /// `ResetAdaptive`: every adaptive model back to its prior.
  public func resetAdaptive(
    request: Arbiter_V1_ResetAdaptiveRequest, context: ServerContext
  ) async throws -> Arbiter_V1_AdaptiveStatus {
    try mappingErrors { () throws(ArbiterError) in
      try audited(context.descriptor, target: "adaptive models", by: Principal.current, door: "grpc") {
        () throws(ArbiterError) in try resetAdaptive()
      }
    }
  }

  /// ResetAdaptive without a transport.
  package func resetAdaptive() throws(ArbiterError) -> Arbiter_V1_AdaptiveStatus {
    try live.resetAdaptive()
    logger.info("adaptive models reset to their priors")
    return adaptiveStatus()
  }

  package func challengerStatus() -> Arbiter_V1_ChallengerStatus {
    guard let (snapshot, share) = live.shadowStatus else { return .init() }
    return .with {
      $0.challenger = snapshot.engine.versions.proto
      $0.share = share
      $0.active = true
    }
  }

  /// `SetChallenger`: loads a challenger bundle for shadow scoring (or stops it with share 0).
  public func setChallenger(
    request: Arbiter_V1_SetChallengerRequest, context: ServerContext
  ) async throws -> Arbiter_V1_ChallengerStatus {
    try mappingErrors { () throws(ArbiterError) in
      try audited(context.descriptor, target: request.bundlePath, by: Principal.current, door: "grpc") {
        () throws(ArbiterError) in try setChallenger(request)
      }
    }
  }

  /// SetChallenger without a transport.
  package func setChallenger(
    _ request: Arbiter_V1_SetChallengerRequest
  ) throws(ArbiterError) -> Arbiter_V1_ChallengerStatus {
    if !request.bundlePath.isEmpty { try live.modelRoots.check(request.bundlePath, field: "bundle_path") }
    try live.setChallenger(path: request.bundlePath.isEmpty ? nil : request.bundlePath, share: request.share)
    logger.info("challenger", metadata: ["path": "\(request.bundlePath)", "share": "\(request.share)"])
    return challengerStatus()
  }

  /// `Reload`: validates and publishes a bundle; on failure the live one keeps serving.
  public func reload(
    request: Arbiter_V1_ReloadRequest, context: ServerContext
  ) async throws -> Arbiter_V1_ReloadResponse {
    try mappingErrors { () throws(ArbiterError) in
      try audited(context.descriptor, target: request.bundlePath, by: Principal.current, door: "grpc") {
        () throws(ArbiterError) in try reload(request)
      }
    }
  }

  /// Reload without a transport.
  package func reload(_ request: Arbiter_V1_ReloadRequest) throws(ArbiterError) -> Arbiter_V1_ReloadResponse {
    if !request.bundlePath.isEmpty { try live.modelRoots.check(request.bundlePath, field: "bundle_path") }
    if request.requireEvaluation { return try reloadOnEvidence(request) }
    do {
      let (previous, current) = try live.reload(from: request.bundlePath.isEmpty ? nil : request.bundlePath)
      logger.info(
        "reloaded bundle",
        metadata: [
          "from": "\(previous.engine.versions.bundleName)/\(previous.engine.versions.bundleVersion)",
          "to": "\(current.engine.versions.bundleName)/\(current.engine.versions.bundleVersion)",
          "path": "\(current.bundle.directory ?? "")",
        ])
      return .with {
        $0.previous = previous.engine.versions.proto
        $0.current = current.engine.versions.proto
        $0.changed = previous.engine.versions != current.engine.versions
      }
    } catch {
      logger.warning("reload refused; the live bundle keeps serving", metadata: ["error": "\(error.message)"])
      throw error
    }
  }

  /// `Promote`: the challenger goes live only on the promotion gate's approval.
  public func promote(
    request: Arbiter_V1_PromoteRequest, context: ServerContext
  ) async throws -> Arbiter_V1_PromotionVerdict {
    try mappingErrors { () throws(ArbiterError) in
      try audited(context.descriptor, target: challengerTarget(request), by: Principal.current, door: "grpc") {
        () throws(ArbiterError) in try promote(request)
      }
    }
  }

  /// What a promotion's audit entry names: the challenger, and whether it was a dry run.
  package func challengerTarget(_ request: Arbiter_V1_PromoteRequest) -> String {
    let challenger = live.shadowStatus.map { "\($0.snapshot.engine.versions.bundleName)/\($0.snapshot.engine.versions.bundleVersion)" }
    return (challenger ?? "no challenger") + (request.dryRun ? " (dry run)" : "")
  }

  /// Promote without a transport. A refusal (not a dry run) is FAILED_PRECONDITION with the
  /// verdict's reason, so that the audit log keeps the numbers.
  package func promote(_ request: Arbiter_V1_PromoteRequest) throws(ArbiterError) -> Arbiter_V1_PromotionVerdict {
    let (verdict, _) = try live.promoteChallenger(
      dryRun: request.dryRun, margin: request.margin, nowMillis: Int64(Date().timeIntervalSince1970 * 1_000))
    logger.info("promotion verdict", metadata: ["reason": "\(verdict.reason)", "dry-run": "\(request.dryRun)"])
    guard verdict.approved || request.dryRun else { throw ArbiterError(.failedPrecondition, verdict.reason) }
    return verdict.proto
  }

  /// Reload with `require_evaluation`: only the challenger's bundle, and only as Promote allows.
  private func reloadOnEvidence(_ request: Arbiter_V1_ReloadRequest) throws(ArbiterError) -> Arbiter_V1_ReloadResponse {
    guard let (challenger, _) = live.shadowStatus else {
      throw ArbiterError(
        .failedPrecondition, "require_evaluation: no challenger is scoring in the shadow, so nothing was evaluated")
    }
    let directory = challenger.bundle.directory ?? ""
    guard request.bundlePath.isEmpty || Self.sameDirectory(request.bundlePath, directory) else {
      throw ArbiterError(
        .failedPrecondition,
        "require_evaluation: bundle_path must be the challenger's (\(directory)), the only bundle with evidence")
    }
    let previous = live.snapshot.engine.versions
    _ = try promote(Arbiter_V1_PromoteRequest())
    return .with {
      $0.previous = previous.proto
      $0.current = live.snapshot.engine.versions.proto
      $0.changed = previous != live.snapshot.engine.versions
    }
  }

  /// Whether two paths name the same bundle directory (or a bundle root and its newest version).
  static func sameDirectory(_ given: String, _ directory: String) -> Bool {
    let resolved = (try? ModelBundle.resolveVersionDirectory(given)) ?? given
    return URL(fileURLWithPath: resolved).standardizedFileURL.resolvingSymlinksInPath()
      == URL(fileURLWithPath: directory).standardizedFileURL.resolvingSymlinksInPath()
  }
}

extension PromotionGate.Verdict {
  /// The verdict on the wire.
  package var proto: Arbiter_V1_PromotionVerdict {
    .with {
      $0.approved = approved
      $0.promoted = promoted
      $0.reason = reason
      $0.champion = champion
      $0.challenger = challenger
      $0.rounds = UInt64(rounds)
      $0.championValue = championValue
      $0.challengerValue = challengerEstimate?.value ?? .nan
      $0.challengerLower = challengerEstimate?.lower ?? .nan
      $0.challengerUpper = challengerEstimate?.upper ?? .nan
      $0.margin = margin
      $0.effectiveSampleSize = effectiveSampleSize
      $0.meanWeight = meanWeight
      $0.warnings = warnings
      $0.atMillis = atMillis
    }
  }
}
