import ArbiterCore

extension LiveState {
  /// How many verdicts ``promotionVerdicts`` keeps.
  static let keptVerdicts = 20

  /// The promotion gate's recent verdicts, newest first.
  public var promotionVerdicts: [PromotionGate.Verdict] { verdicts.withLock { $0 } }

  /// Judges the challenger scoring in the shadow with ``promotionGate`` on the end of the interaction log
  /// and, when the gate approves and this is not a dry run, makes it the champion (loaded from
  /// its directory as a reload is) and stops shadow scoring. The verdict is kept for the
  /// dashboard either way. Throws `failedPrecondition` when there is no challenger or the log is
  /// kept in memory only; a refusal is a verdict, not an error. `margin` may make the
  /// configured margin stricter for this call, never looser.
  public func promoteChallenger(
    dryRun: Bool, margin: Double = 0, nowMillis: Int64
  ) throws(ArbiterError) -> (
    verdict: PromotionGate.Verdict, promoted: (previous: DecisionSnapshot, current: DecisionSnapshot)?
  ) {
    guard let (challenger, _) = shadowStatus, let directory = challenger.bundle.directory else {
      throw ArbiterError(
        .failedPrecondition, "no challenger is scoring in the shadow: set one with SetChallenger first")
    }
    guard let path = log.path else {
      throw ArbiterError(
        .failedPrecondition,
        "the interaction log is kept in memory only: configure interaction-log.path to promote on evidence")
    }
    let champion = snapshot
    guard Self.name(champion) != Self.name(challenger) else {
      throw ArbiterError(
        .failedPrecondition,
        "the challenger has the champion's name and version (\(Self.name(champion))): "
          + "the log cannot tell their decisions apart"
      )
    }
    guard margin.isFinite else { throw ArbiterError(.invalidArgument, "margin must be a finite number") }
    log.flush()
    var gate = promotionGate
    if margin > gate.configuration.margin {
      var stricter = gate.configuration
      stricter.margin = margin
      gate = PromotionGate(configuration: stricter)
    }
    let verdict = try gate.judge(
      logPath: path, schema: champion.bundle.schema, champion: Self.name(champion), challenger: Self.name(challenger),
      nowMillis: nowMillis)
    verdicts.withLock { kept in
      kept.insert(verdict, at: 0)
      if kept.count > Self.keptVerdicts { kept.removeLast() }
    }
    guard verdict.approved, !dryRun else { return (verdict, nil) }
    let promoted = try reload(from: directory)
    try setChallenger(path: nil, share: 0)
    var done = verdict
    done.promoted = true
    verdicts.withLock { kept in
      if let k = kept.firstIndex(of: verdict) { kept[k] = done }
    }
    return (done, promoted)
  }

  /// A snapshot's bundle as the log names it: "name/version".
  static func name(_ snapshot: DecisionSnapshot) -> String {
    "\(snapshot.engine.versions.bundleName)/\(snapshot.engine.versions.bundleVersion)"
  }
}
