import ArbiterCore
import ArbiterModels

extension DecisionEngine {
  /// The strongest positive contributions, each said as what is true of this customer: the
  /// catalogue's high or low phrase for numeric features, the level for categorical ones (see
  /// ``ReasonPhrases``). When nothing pushes the score up, the strongest negative one.
  func topReasons(
    _ phrases: ReasonPhrases, _ contributions: [Double], customer: UnsafeBufferPointer<Float>,
    context: UnsafeBufferPointer<Float>
  ) -> [ReasonCode] {
    let names = phrases.names
    func phrase(_ i: Int) -> String { phrases.phrase(i, customer: customer, context: context) }
    // The largest positive contributions (ties to the lower index), picked in one pass into three
    // fixed slots (no array per offer).
    precondition(Self.reasonsPerOffer == 3, "the pick below keeps three")
    // An empty slot holds 0, so only positive values enter; once three are held, one comparison
    // with the third (rarely true) is all most values cost.
    var top = (-1, -1, -1)
    var best = (0.0, 0.0, 0.0)
    contributions.withUnsafeBufferPointer { c in
      for i in c.indices {
        let v = c[i]
        guard v > best.2 else { continue }
        if v > best.0 {
          top = (i, top.0, top.1)
          best = (v, best.0, best.1)
        } else if v > best.1 {
          top = (top.0, i, top.1)
          best = (best.0, v, best.1)
        } else {
          top.2 = i
          best.2 = v
        }
      }
    }
    let count = top.2 >= 0 ? 3 : top.1 >= 0 ? 2 : top.0 >= 0 ? 1 : 0
    var reasons: [ReasonCode] = []
    reasons.reserveCapacity(count + 1)
    for k in 0..<count {
      let i = k == 0 ? top.0 : k == 1 ? top.1 : top.2
      reasons.append(
        ReasonCode(code: "FEATURE_POSITIVE", feature: names[i], contribution: contributions[i], phrase: phrase(i)))
    }
    if reasons.isEmpty, !contributions.isEmpty {
      // None positive: the weakest (ties to the higher index).
      var weakest = 0
      for i in contributions.indices where contributions[i] <= contributions[weakest] { weakest = i }
      reasons.append(
        ReasonCode(
          code: "FEATURE_NEGATIVE", feature: names[weakest], contribution: contributions[weakest],
          phrase: phrase(weakest)))
    }
    return reasons
  }
}
