import ArbiterCore
import ArbiterModels
import Foundation

/// One offer's reason phrases, worked out when the catalogue loads: per contribution slot of
/// its model, the phrase for a value above or below the reference (the training mean for a
/// logistic model, the stored customers' median for trees) and per level of a categorical
/// feature. A decision picks a phrase by index; it builds no string unless a tree feature has
/// no phrase and its value has to be printed.
final class ReasonPhrases: Sendable {
  struct Slot: Sendable {
    /// Customer index (>= 0) or `-1 - contextIndex`; nil when the model has no term to read.
    var source: Int32?
    /// Above this the value is "high"; NaN when there is no reference.
    var reference: Double
    var high: String
    var low: String
    /// When the value is missing (or there is no reference).
    var neutral: String
    /// For a categorical feature: per level code.
    var levels: [String]
    /// Trees without a phrase: the label the printed value follows.
    var printsValue: Bool
    var label: String
  }

  let names: [String]
  let slots: [Slot]

  init(
    model: PropensityModel, schema: FeatureSchema, phrases: [String: FeaturePhrase], typicalValues: [Float],
    label: (String) -> String
  ) {
    names = model.featureNames
    var slots: [Slot] = []
    switch model.scorer {
    case .logistic(let logistic):
      for (i, name) in names.enumerated() {
        let term = logistic.termFeature.firstIndex(of: i)!
        let source = logistic.sourceOfTerm(term)
        let categorical = logistic.isIndicatorTerm(term)
        var levels: [String] = []
        if categorical, let definition = schema.source(of: name).map({ schema.definition(of: $0) }),
          case .categorical(let known) = definition.kind
        {
          levels = known.map { name == "channel" ? "responds well through \($0)" : "\(label(name)): \($0)" }
        }
        let phrase = phrases[name]
        slots.append(
          Slot(
            source: source, reference: categorical ? .nan : logistic.meanOfTerm(term),
            high: phrase?.high ?? label(name) + " high", low: phrase?.low ?? label(name) + " low", neutral: label(name),
            levels: levels, printsValue: false, label: label(name)))
      }
    case .trees:
      for (i, name) in names.enumerated() {
        var levels: [String] = []
        if case .categorical(let known) = schema.customerFeatures[i].kind {
          levels = known.map { "\(label(name)): \($0)" }
        }
        let phrase = phrases[name]
        let reference = phrase == nil ? Double.nan : Double(typicalValues[i])
        slots.append(
          Slot(
            source: Int32(i), reference: reference, high: phrase?.high ?? "", low: phrase?.low ?? "",
            neutral: "\(label(name)) unknown",
            levels: levels, printsValue: reference.isNaN, label: label(name)))
      }
    }
    self.slots = slots
  }

  /// What slot `i` says of this customer.
  func phrase(_ i: Int, customer: UnsafeBufferPointer<Float>, context: UnsafeBufferPointer<Float>) -> String {
    // Fields read one by one: copying the whole slot would retain each of its strings.
    guard let source = slots[i].source else { return slots[i].neutral }
    let value = source >= 0 ? customer[Int(source)] : context[Int(-1 - source)]
    let levelCount = slots[i].levels.count
    if levelCount > 0, !value.isNaN, Int(value) >= 0, Int(value) < levelCount { return slots[i].levels[Int(value)] }
    if slots[i].printsValue {
      return "\(slots[i].label) \(value.isNaN ? "unknown" : String(format: "%g", Double(value)))"
    }
    let reference = slots[i].reference
    if value.isNaN || reference.isNaN { return slots[i].neutral }
    return Double(value) > reference ? slots[i].high : slots[i].low
  }
}
