import ArbiterCore

/// What a rule policy achieves measured directly on a randomised experiment's arms, without
/// weights or models: the customers each rule picks, and among them those who got the rule's
/// action by the randomisation, whose mean reward is what the rule would get. The strata are
/// weighted by their share of all customers. Meaningful only when the actions were assigned at
/// random independently of the features (as in an A/B/n test); it is the yardstick off-policy
/// estimates are checked against.
public struct ArmMeasurement: Sendable, Codable, Hashable {
  /// The measured value per decision.
  public var value: Double
  /// Its standard error (the strata's shares taken as fixed).
  public var standardError: Double
  /// The customers whose logged action was the one their rule chooses.
  public var matchedRows: Int

  /// Measures `policy` on `log`; throws when a rule's action was never taken for the customers it picks.
  public static func measure(_ policy: RulePolicy, on log: LoggedBanditTable) throws(ArbiterError) -> ArmMeasurement {
    let code = Dictionary(uniqueKeysWithValues: log.actionNames.enumerated().map { ($1, $0) })
    let table = log.table
    var strata = [Int](repeating: 0, count: policy.rules.count)
    // Per rule and action: rows, rewards and squared rewards.
    var cells = [[(n: Double, sum: Double, squares: Double)]](
      repeating: Array(repeating: (0, 0, 0), count: log.actionNames.count), count: policy.rules.count)
    var vector = [Float](repeating: 0, count: table.featureCount)
    let none = [Float]()
    for row in 0..<table.rowCount {
      for f in 0..<table.featureCount { vector[f] = table.columns[f][row] }
      let rule = vector.withUnsafeBufferPointer { customer in
        none.withUnsafeBufferPointer { policy.rule(customer: customer, context: $0) }
      }
      strata[rule] += 1
      let reward = table.labels[row] ? 1.0 : 0.0
      cells[rule][log.actions[row]].n += 1
      cells[rule][log.actions[row]].sum += reward
      cells[rule][log.actions[row]].squares += reward * reward
    }
    var value = 0.0
    var variance = 0.0
    var matched = 0
    let total = Double(table.rowCount)
    for (r, rule) in policy.rules.enumerated() where strata[r] > 0 {
      let share = Double(strata[r]) / total
      for choice in rule.actions where choice.probability > 0 {
        let cell = cells[r][code[choice.action]!]
        guard cell.n > 1 else {
          throw ArbiterError(
            .failedPrecondition,
            "rule \(r + 1) picks \(strata[r]) customers but fewer than 2 of them got '\(choice.action)': "
              + "it cannot be measured"
          )
        }
        matched += Int(cell.n)
        let mean = cell.sum / cell.n
        let sampleVariance = max(0, (cell.squares - cell.n * mean * mean) / (cell.n - 1))
        value += share * choice.probability * mean
        variance += share * share * choice.probability * choice.probability * sampleVariance / cell.n
      }
    }
    return ArmMeasurement(value: value, standardError: variance.squareRoot(), matchedRows: matched)
  }
}
