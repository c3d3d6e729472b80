import ArbiterCore
import ArbiterDecisioning
import ArbiterFeatureStore
import ArbiterLearning
import ArbiterModels
import ArgumentParser
import Foundation

/// `arbiter-tools evaluate-policy`: the value of candidate policies estimated on logged traffic
/// (off-policy evaluation), before any of them goes live.
struct EvaluatePolicy: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "evaluate-policy",
    abstract:
      "Estimate what candidate policies would achieve, from traffic another policy logged (IPW, SNIPW, DM, DR).",
    discussion: """
      Reads either an interaction log (--log: the decisions' first offers, the probabilities they were drawn with, \\
      the features logged with them and the accepts or conversions within --window) or a campaign export (--csv, \\
      with --action, --reward and the logged probability as --probability-column or --logged-probability). \\
      Each --candidate is a bundle directory (its engine decides again on the logged features, with its own \\
      exploration, without control groups, quotas or contact history), shadow (the challenger's shadow decisions \\
      in the log), a rule policy file (JSON: {"rules":[{"when":"RULE","action":"A"}, …, {"action":"B"}]}) or \\
      always:ACTION. Prints, per candidate, in total and per group (the channel, or --group): inverse \\
      propensity weighting, self-normalised IPW, the direct method and doubly robust, each with a bootstrap \\
      interval, the effective sample size and warnings where the log gives the candidate little support. Writes \\
      <out>/ope.json and, with --write-rounds, each candidate's per-round inputs as CSV.
      """)

  @Option(help: "An interaction log to evaluate on (repeatable, in order).") var log: [String] = []
  @Option(help: "A campaign export to evaluate on (CSV).") var csv: String?
  @Option(help: "The action column (--csv).") var action: String?
  @Option(help: "The binary reward column (--csv).") var rewardColumn: String?
  @Option(help: "The reward (--log): response (1 or 0) or value (the response times the offer's value).")
  var reward: LoggedPolicyRounds.Reward?
  @Option(help: "The bundle whose features the log holds (--log; rule policies are read against its schema).")
  var bundle: String?
  @Option(help: "The reward's positive value (--csv; default: 1, yes, true, y or t).") var positive: String?
  @Option(name: .customLong("probability-column"), help: "The logged probabilities' column (--csv).")
  var probabilityColumn: String?
  @Option(name: .customLong("logged-probability"), help: "One logged probability for every row (--csv).")
  var loggedProbability: Double?
  @Option(help: "The column to report groups by (--csv; the channel for --log).") var group: String?
  @Option(help: "Columns that are not features, comma-separated (--csv).") var ignore: String?
  @Option(help: "A bundle, shadow, a rule policy file (.json) or always:ACTION (repeatable).") var candidate: [String] =
    []
  @Option(name: .customLong("reward-model"), help: "The direct method's reward model: logistic or trees.")
  var rewardModel: TableModel.Learner = .logistic
  @Option(help: "How long after a decision an accept or convert counts (--log).") var window = "14d"
  @Option(help: "Bootstrap replicates (0: normal intervals from the standard errors).") var replicates = 1_000
  @Option(help: "The bootstrap's seed.") var seed: UInt64 = 17
  @Flag(
    name: .customLong("compare-arms"),
    help: "Also measure each rule policy directly on the arms (--csv from a randomised test).")
  var compareArms = false
  @Flag(name: .customLong("write-rounds"), help: "Write each candidate's per-round inputs to <out>/rounds-<n>.csv.")
  var writeRounds = false
  @Option(help: "Output directory.") var out = "policy-evaluation"

  /// One candidate's evaluation, as ope.json holds it.
  struct CandidateReport: Codable {
    var candidate: String
    var policy: String
    var measuredOnArms: ArmMeasurement?
    var evaluation: OffPolicyEvaluation
  }

  func run() throws {
    guard !candidate.isEmpty else { throw ValidationError("give at least one --candidate") }
    guard (csv == nil) != log.isEmpty else { throw ValidationError("give either --csv or --log") }
    var options = OffPolicyEvaluation.Options()
    options.replicates = replicates
    options.seed = seed
    let evaluated: [(String, String, [PolicyRound], ArmMeasurement?)]
    if let csv {
      evaluated = try evaluateExport(csv)
    } else {
      evaluated = try evaluateLog()
    }
    try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
    var reports: [CandidateReport] = []
    for (index, (name, policy, rounds, arms)) in evaluated.enumerated() {
      let evaluation = try failing { try OffPolicyEvaluation.evaluate(rounds, options: options) }
      reports.append(CandidateReport(candidate: name, policy: policy, measuredOnArms: arms, evaluation: evaluation))
      print(Self.describe(reports.last!))
      if writeRounds { try Self.writeRounds(rounds, to: "\(out)/rounds-\(index + 1).csv") }
    }
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    encoder.keyEncodingStrategy = .convertToSnakeCase
    encoder.nonConformingFloatEncodingStrategy = .convertToString(
      positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    try encoder.encode(reports).write(to: URL(fileURLWithPath: out + "/ope.json"))
    print("wrote \(out)/ope.json")
  }

  /// The candidates' rounds on a campaign export.
  private func evaluateExport(_ path: String) throws -> [(String, String, [PolicyRound], ArmMeasurement?)] {
    guard let action, let rewardColumn else { throw ValidationError("--csv needs --action and --reward-column") }
    var options = LoggedBanditTable.Options(actionColumn: action, rewardColumn: rewardColumn)
    options.positive = positive
    options.probabilityColumn = probabilityColumn
    options.probability = loggedProbability
    options.groupColumn = group
    options.ignored = Set((ignore ?? "").split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) })
    let (bandit, inference) = try failing { try LoggedBanditTable.read(path: path, options: options) }
    print("\(path): \(bandit.table.rowCount) rows, actions \(bandit.actionNames.joined(separator: ", "))")
    for line in inference.lines { print(line) }
    let predictions = try failing {
      try CrossFittedRewards.fit(
        table: bandit.table, actions: bandit.actions, actionCount: bandit.actionNames.count, learner: rewardModel)
    }
    let actions = Set(bandit.actionNames)
    return try candidate.map { spec in
      let policy: RulePolicy
      if spec.hasPrefix("always:") {
        let name = String(spec.dropFirst("always:".count))
        guard actions.contains(name) else {
          throw ValidationError(
            "\(spec): '\(name)' is not an action of \(path) (\(bandit.actionNames.joined(separator: ", ")))")
        }
        policy = .always(name)
      } else {
        policy = try failing { try RulePolicy(path: spec, schema: bandit.table.schema, actions: actions) }
      }
      let arms = compareArms ? try failing { try ArmMeasurement.measure(policy, on: bandit) } : nil
      return (spec, policy.name, bandit.rounds(policy: policy, predictions: predictions), arms)
    }
  }

  /// The candidates' rounds on an interaction log.
  private func evaluateLog() throws -> [(String, String, [PolicyRound], ArmMeasurement?)] {
    guard let bundle else { throw ValidationError("--log needs --bundle: the bundle whose features the log holds") }
    let logging = try failing { try ModelBundle.load(from: bundle) }
    guard let windowDuration = DurationText.parse(window) else {
      throw ValidationError("--window '\(window)' is not a duration such as 14d, 36h or 90m")
    }
    let log = try failing { try LoggedDecisions.read(paths: self.log, window: windowDuration) }
    let source = try failing {
      try LoggedPolicyRounds(log: log, schema: logging.schema, window: windowDuration, reward: reward ?? .response)
    }
    print(source.counts.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", "))
    let offers = Set(logging.catalogue.offers.map(\.id))
    return try candidate.map { spec in
      switch spec {
      case "shadow":
        return (spec, "the challenger's shadow decisions", source.rounds(.shadow), nil)
      case _ where spec.hasPrefix("always:"):
        let name = String(spec.dropFirst("always:".count))
        guard offers.contains(name) else { throw ValidationError("\(spec): '\(name)' is not an offer of \(bundle)") }
        return (spec, "always \(name)", source.rounds(.rules(.always(name))), nil)
      case _ where spec.hasSuffix(".json"):
        let policy = try failing { try RulePolicy(path: spec, schema: logging.schema, actions: offers) }
        return (spec, policy.name, source.rounds(.rules(policy)), nil)
      default:
        var candidateBundle = try failing { try ModelBundle.load(from: spec) }
        guard candidateBundle.schema.layout == logging.schema.layout else {
          throw ValidationError("\(spec): its feature schema is not the logged one (\(bundle)'s)")
        }
        candidateBundle.catalogue = DecisionEngine.replayCatalogue(candidateBundle.catalogue)
        let store = try failing { try FeatureStore(schema: candidateBundle.schema, expectedCustomers: 1) }
        let engine = try failing { try DecisionEngine(bundle: candidateBundle, customers: store) }
        let name =
          "\(candidateBundle.manifest.name)/\(candidateBundle.manifest.version), "
          + candidateBundle.catalogue.exploration.method.rawValue
        return (spec, name, source.rounds(.engine(engine)), nil)
      }
    }
  }

  /// A candidate's estimates as a table.
  static func describe(_ report: CandidateReport) -> String {
    func cell(_ e: OffPolicyEvaluation.Estimate) -> String {
      String(format: "%.4f [%.4f, %.4f]", e.value, e.lower, e.upper).padding(toLength: 27, withPad: " ", startingAt: 0)
    }
    var lines = ["", "candidate \(report.candidate) (\(report.policy))"]
    if let arms = report.measuredOnArms {
      lines.append(
        String(
          format: "  measured on the arms: %.4f ± %.4f (1.96 s.e.), %d matching rows", arms.value,
          1.96 * arms.standardError, arms.matchedRows))
    }
    lines.append(
      "  " + "group".padding(toLength: 14, withPad: " ", startingAt: 0)
        + "rounds   ESS       logged value               "
        + "IPW                        SNIPW                      DM                         DR")
    for segment in [report.evaluation.total] + report.evaluation.groups {
      let head =
        "  " + segment.name.padding(toLength: 14, withPad: " ", startingAt: 0)
        + String(segment.rounds).padding(toLength: 9, withPad: " ", startingAt: 0)
        + String(Int(segment.effectiveSampleSize.rounded())).padding(toLength: 10, withPad: " ", startingAt: 0)
      lines.append(
        head + cell(segment.logged) + cell(segment.ipw) + cell(segment.snipw) + cell(segment.directMethod)
          + cell(segment.doublyRobust))
      for warning in segment.warnings { lines.append("    ! \(segment.name): \(warning)") }
    }
    return lines.joined(separator: "\n")
  }

  /// The rounds as CSV with 17 significant digits (what `tools/ope-reference.py` reads).
  static func writeRounds(_ rounds: [PolicyRound], to path: String) throws {
    var text = "group,logged_probability,reward,target_probability,predicted_reward,predicted_target_value\n"
    for r in rounds {
      let numbers = [r.loggedProbability, r.reward, r.targetProbability, r.predictedReward, r.predictedTargetValue]
      let group =
        r.group.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" })
        ? "\"" + r.group.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : r.group
      text += group + "," + numbers.map { String(format: "%.17g", $0) }.joined(separator: ",") + "\n"
    }
    try text.write(toFile: path, atomically: true, encoding: .utf8)
  }
}

extension TableModel.Learner: ExpressibleByArgument {}

extension LoggedPolicyRounds.Reward: ExpressibleByArgument {}
