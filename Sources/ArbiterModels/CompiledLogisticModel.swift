import ArbiterCore

/// A logistic model compiled against a schema: feature names resolved to indices, terms laid out
/// in flat arrays. Scoring reads the customer's vector and the context vector in place and
/// allocates nothing.
///
/// Missing values (NaN) contribute nothing: they are scored as the training mean.
public struct CompiledLogisticModel: Sendable {
  public let offerId: String
  public let intercept: Double
  /// Per term: index into the customer vector (>= 0) or `-1 - contextIndex` for context features.
  @usableFromInline let sources: [Int32]
  /// Per term: the categorical code the term is an indicator of, or NaN for a numeric term.
  @usableFromInline let levels: [Float]
  @usableFromInline let means: [Double]
  @usableFromInline let inverseScales: [Double]
  @usableFromInline let weights: [Double]
  /// Per term: index into ``featureNames`` (levels of one categorical feature share it).
  public let termFeature: [Int]
  /// The distinct features the model reads, for reason codes.
  public let featureNames: [String]
  public let metrics: TrainingMetrics

  /// Compiles `document` against `schema`; throws naming a feature or level the schema lacks.
  public init(_ document: LogisticModelDocument, schema: FeatureSchema) throws(ArbiterError) {
    guard document.kind == "logistic" else {
      throw ArbiterError(.failedPrecondition, "model for '\(document.offerId)' has unsupported kind '\(document.kind)'")
    }
    guard document.intercept.isFinite else {
      throw ArbiterError(.dataCorrupted, "model for '\(document.offerId)' has a non-finite intercept")
    }
    var sources: [Int32] = []
    var levels: [Float] = []
    var termFeature: [Int] = []
    var names: [String] = []
    for (position, term) in document.terms.enumerated() {
      let what = "model for '\(document.offerId)', term \(position)"
      guard let source = schema.source(of: term.feature) else {
        throw ArbiterError(.failedPrecondition, "\(what) uses feature '\(term.feature)', which the schema lacks")
      }
      guard term.mean.isFinite, term.weight.isFinite, term.scale.isFinite, term.scale > 0 else {
        throw ArbiterError(.dataCorrupted, "\(what) ('\(term.feature)') has a non-finite or non-positive coefficient")
      }
      switch source {
      case .customer(let index): sources.append(Int32(index))
      case .context(let index): sources.append(Int32(-1 - index))
      }
      if let level = term.level {
        guard case .categorical(let known) = schema.definition(of: source).kind, let code = known.firstIndex(of: level) else {
          throw ArbiterError(.failedPrecondition, "\(what): '\(term.feature)' has no level '\(level)' in the schema")
        }
        levels.append(Float(code))
      } else {
        levels.append(.nan)
      }
      if let existing = names.firstIndex(of: term.feature) { termFeature.append(existing) } else {
        names.append(term.feature)
        termFeature.append(names.count - 1)
      }
    }
    self.offerId = document.offerId
    self.intercept = document.intercept
    self.sources = sources
    self.levels = levels
    self.means = document.terms.map(\.mean)
    self.inverseScales = document.terms.map { 1 / $0.scale }
    self.weights = document.terms.map(\.weight)
    self.termFeature = termFeature
    self.featureNames = names
    self.metrics = document.metrics
  }

  public var termCount: Int { weights.count }

  @inlinable
  func standardised(term t: Int, customer: UnsafeBufferPointer<Float>, context: UnsafeBufferPointer<Float>) -> Double {
    let source = Int(sources[t])
    let raw = source >= 0 ? customer[source] : context[-1 - source]
    if raw.isNaN { return 0 }
    let level = levels[t]
    let x: Double = level.isNaN ? Double(raw) : (raw == level ? 1 : 0)
    return (x - means[t]) * inverseScales[t]
  }

  /// The model's log-odds for one customer in one context.
  @inlinable
  public func logit(customer: UnsafeBufferPointer<Float>, context: UnsafeBufferPointer<Float>) -> Double {
    var z = intercept
    for t in 0..<weights.count {
      z += weights[t] * standardised(term: t, customer: customer, context: context)
    }
    return z
  }

  /// The propensity (probability of acceptance).
  @inlinable
  public func propensity(customer: UnsafeBufferPointer<Float>, context: UnsafeBufferPointer<Float>) -> Double {
    sigmoid(logit(customer: customer, context: context))
  }

  /// For a numeric or boolean feature of the model (index into ``featureNames``): whether the
  /// customer's value is above the training mean (nil when missing or categorical).
  public func isAboveMean(feature: Int, customer: UnsafeBufferPointer<Float>, context: UnsafeBufferPointer<Float>) -> Bool? {
    guard let t = termFeature.firstIndex(of: feature), levels[t].isNaN else { return nil }
    let source = Int(sources[t])
    let raw = source >= 0 ? customer[source] : context[-1 - source]
    return raw.isNaN ? nil : Double(raw) > means[t]
  }

  /// For a categorical feature: the customer's code (nil when missing or numeric).
  public func categoricalCode(feature: Int, customer: UnsafeBufferPointer<Float>, context: UnsafeBufferPointer<Float>) -> Int? {
    guard let t = termFeature.firstIndex(of: feature), !levels[t].isNaN else { return nil }
    let source = Int(sources[t])
    let raw = source >= 0 ? customer[source] : context[-1 - source]
    return raw.isNaN ? nil : Int(raw)
  }

  /// Exact per-feature contributions to the log-odds relative to the training mean, written into
  /// `into` (indexed like ``featureNames``; must have that many elements).
  public func contributions(
    customer: UnsafeBufferPointer<Float>, context: UnsafeBufferPointer<Float>, into: inout [Double]
  ) {
    for i in into.indices { into[i] = 0 }
    for t in 0..<weights.count {
      into[termFeature[t]] += weights[t] * standardised(term: t, customer: customer, context: context)
    }
  }
}

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif
