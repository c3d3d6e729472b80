import ArbiterCore
import ArbiterLearning
import ArbiterModels

/// The rounds off-policy evaluation reads from an interaction log: one per decision that made an
/// offer, logged features of the schema and is settled (an outcome, or its window closed). The
/// action is the offer in the first position, with the probability it was drawn with; the reward
/// is its response (or the response times its value); the reward model is a logistic model per
/// offer fitted on the log's first positions, cross-fitted in two folds of decisions.
public struct LoggedPolicyRounds: Sendable {
  /// What counts as the reward.
  public enum Reward: String, Sendable, CaseIterable {
    /// 1 for an accept or conversion within the window, 0 otherwise.
    case response
    /// The response times the offer's value (the value the outcome reported, else the logged one).
    case value
  }

  /// How a candidate chooses the first offer.
  public enum Candidate: Sendable {
    /// A bundle's engine, deciding again on the logged features
    /// (``DecisionEngine/replayFirstChoices(customerId:channel:features:atMillis:)``).
    case engine(DecisionEngine)
    /// The challenger's shadow decisions logged beside the champion's: its first offer as drawn
    /// (decisions without a shadow are left out).
    case shadow
    /// Rules over the features, naming offers.
    case rules(RulePolicy)
  }

  /// One usable decision with its reward-model predictions.
  struct Usable {
    var entry: LoggedDecisions.Entry
    var reward: Double
    var value: Double
  }

  let schema: FeatureSchema
  let reward: Reward
  let usable: [Usable]
  /// Per decision (as `usable`), per offer id: the cross-fitted response probability.
  let predictions: [[String: Double]]
  /// The first positions' pooled response rate: the prediction for an offer the log never put first.
  let pooledRate: Double
  /// Decisions read, and why those left out were.
  public private(set) var counts: [String: Int] = [:]

  /// Reads what the rounds need from a log read with ``LoggedDecisions``.
  public init(
    log: LoggedDecisions, schema: FeatureSchema, window: Duration, reward: Reward,
    trainer: LogisticTrainer = Self.trainer
  ) throws(ArbiterError) {
    self.schema = schema
    self.reward = reward
    let width = schema.width + schema.contextFeatures.count
    var usable: [Usable] = []
    var counts: [String: Int] = ["decisions": log.entries.count]
    for entry in log.entries {
      guard let features = entry.features, features.count == width else {
        counts["left out: no features of the schema", default: 0] += 1
        continue
      }
      guard let first = entry.shown.first else {
        counts["left out: no offer made", default: 0] += 1
        continue
      }
      guard entry.settled[first.offerId] != nil || log.isSettled(entry, window: window) else {
        counts["left out: window still open", default: 0] += 1
        continue
      }
      let responded = entry.settled[first.offerId] == true
      let value = entry.reportedValue[first.offerId] ?? first.value
      usable.append(Usable(entry: entry, reward: responded ? (reward == .value ? value : 1) : 0, value: first.value))
    }
    guard !usable.isEmpty else {
      throw ArbiterError(.invalidArgument, "the log has no settled decision with an offer and features of the schema")
    }
    counts["used"] = usable.count
    self.counts = counts
    self.usable = usable
    let responses = usable.lazy.filter { $0.entry.settled[$0.entry.shown[0].offerId] == true }.count
    pooledRate = Double(responses) / Double(usable.count)
    predictions = try Self.crossFitted(usable, schema: schema, trainer: trainer)
  }

  /// The default reward model's trainer: no hold-out of its own (the folds are the hold-out).
  public static var trainer: LogisticTrainer {
    var trainer = LogisticTrainer()
    trainer.holdoutFraction = 0
    return trainer
  }

  /// The fewest first-position examples an offer's reward model is fitted on.
  static let minimumExamples = 100

  /// Per decision and offer, the response probability from the other fold's model of that offer.
  static func crossFitted(
    _ usable: [Usable], schema: FeatureSchema, trainer: LogisticTrainer
  ) throws(ArbiterError) -> [[String: Double]] {
    let fold = usable.map { Int(SeededGenerator.mix(FNV1a.hash($0.entry.decisionId)) & 1) }
    let offers = Set(usable.map { $0.entry.shown[0].offerId }).sorted()
    var predictions = [[String: Double]](repeating: [:], count: usable.count)
    let split = schema.width
    for k in 0..<2 {
      for offer in offers {
        var set = TrainingSet(customerWidth: split, contextWidth: schema.contextFeatures.count)
        for (i, round) in usable.enumerated() where fold[i] != k && round.entry.shown[0].offerId == offer {
          let features = round.entry.features!
          set.append(
            customer: features[0..<split], context: features[split...], label: round.entry.settled[offer] == true,
            group: round.entry.customerId)
        }
        let positives = set.labels.lazy.filter { $0 }.count
        // Too few examples, or of one class: the offer's response rate stands in for a model.
        var model: CompiledLogisticModel?
        if set.count >= minimumExamples && positives >= 5 && set.count - positives >= 5 {
          model = try CompiledLogisticModel(trainer.train(offerId: offer, schema: schema, data: set), schema: schema)
        }
        let rate = set.count == 0 ? nil : Double(positives) / Double(set.count)
        for i in usable.indices where fold[i] == k {
          let features = usable[i].entry.features!
          if let model {
            predictions[i][offer] = features.withUnsafeBufferPointer { all in
              sigmoid(
                model.logit(
                  customer: UnsafeBufferPointer(rebasing: all[0..<split]),
                  context: UnsafeBufferPointer(rebasing: all[split...])))
            }
          } else if let rate {
            predictions[i][offer] = rate
          }
        }
      }
    }
    return predictions
  }

  /// The candidate's rounds (for ``Candidate/shadow``, only the decisions with a shadow).
  public func rounds(_ candidate: Candidate) -> [PolicyRound] {
    var rounds: [PolicyRound] = []
    rounds.reserveCapacity(usable.count)
    let split = schema.width
    for (i, round) in usable.enumerated() {
      let entry = round.entry
      let features = entry.features!
      var choices: [(offerId: String, probability: Double, value: Double)]
      switch candidate {
      case .engine(let engine):
        let channel = Channel(name: entry.channel) ?? .web
        choices = engine.replayFirstChoices(
          customerId: entry.customerId, channel: channel, features: features, atMillis: entry.timestampMillis
        ).map { ($0.offerId, $0.probability, $0.value) }
      case .shadow:
        guard let first = entry.shadow?.first else { continue }
        choices = [(first.offerId, 1, first.value)]
      case .rules(let policy):
        let picked = features.withUnsafeBufferPointer { all in
          policy.choices(
            customer: UnsafeBufferPointer(rebasing: all[0..<split]),
            context: UnsafeBufferPointer(rebasing: all[split...]))
        }
        let values = Dictionary(entry.shown.map { ($0.offerId, $0.value) }, uniquingKeysWith: { a, _ in a })
        choices = picked.map { ($0.action, $0.probability, values[$0.action] ?? 0) }
      }
      let logged = entry.shown[0]
      var target = 0.0
      var predictedValue = 0.0
      for choice in choices {
        if choice.offerId == logged.offerId { target += choice.probability }
        predictedValue += choice.probability * predicted(i, choice.offerId, value: choice.value)
      }
      rounds.append(
        PolicyRound(
          group: entry.channel, loggedProbability: logged.probability, reward: round.reward, targetProbability: target,
          predictedReward: predicted(i, logged.offerId, value: round.value), predictedTargetValue: predictedValue))
    }
    return rounds
  }

  /// The reward model's prediction for an offer in decision `i` (times its value for a value reward).
  private func predicted(_ i: Int, _ offerId: String, value: Double) -> Double {
    let p = predictions[i][offerId] ?? pooledRate
    return reward == .value ? p * value : p
  }
}
