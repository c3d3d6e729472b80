import ArbiterModels

extension ModelEvaluation {
  /// Evaluates `model` on `count` rows: each row's customer and context vectors written by
  /// `fill` into the buffers given (sized for the model's schema), and its label. The first
  /// `explainRows` rows are explained (TreeSHAP for trees, weight × standardised value for a
  /// logistic model) for the importance by mean |SHAP|; `gains` adds LightGBM's gain and split counts.
  public init(
    model: PropensityModel, rows count: Int, customerWidth: Int, contextWidth: Int, labels: [Bool],
    gains: [String: (gain: Double, splits: Int)] = [:], explainRows: Int,
    fill: (_ row: Int, _ customer: inout [Float], _ context: inout [Float]) -> Void
  ) {
    var customer = [Float](repeating: .nan, count: customerWidth)
    var context = [Float](repeating: .nan, count: contextWidth)
    let slots = model.featureNames
    var shap = [Double](repeating: 0, count: slots.count)
    var phi = shap
    var probabilities: [Double] = []
    probabilities.reserveCapacity(count)
    let explained = min(explainRows, count)
    for r in 0..<count {
      fill(r, &customer, &context)
      customer.withUnsafeBufferPointer { x in
        context.withUnsafeBufferPointer { c in
          probabilities.append(model.propensity(customer: x, context: c))
          if r < explained {
            model.contributions(customer: x, context: c, into: &phi)
            for f in phi.indices { shap[f] += abs(phi[f]) }
          }
        }
      }
    }
    let importance = slots.enumerated().map { f, name in
      Importance(
        feature: name, gain: gains.isEmpty ? nil : gains[name]?.gain ?? 0,
        splits: gains.isEmpty ? nil : gains[name]?.splits ?? 0,
        meanAbsoluteSHAP: explained > 0 ? shap[f] / Double(explained) : nil)
    }
    let method: String
    if case .logistic = model.scorer {
      method = "exact for a linear model: weight × standardised value"
    } else {
      method = "exact TreeSHAP"
    }
    self.init(
      probabilities: probabilities, labels: labels, importance: importance, explainedRows: explained,
      contributionMethod: method)
  }
}
