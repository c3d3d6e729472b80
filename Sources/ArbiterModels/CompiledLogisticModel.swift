import ArbiterCore

/// A logistic model compiled against a schema: feature names resolved to indices, terms laid out
/// in flat arrays. Scoring reads the customer's vector and the context vector in place and
/// allocates nothing.
///
/// Missing values (NaN) contribute nothing: they are scored as the training mean.
public final class CompiledLogisticModel: Sendable {
  /// The offer the model scores.
  public let offerId: String
  /// The model's intercept as stored, in log-odds (before the terms' means are folded in).
  public let intercept: Double
  /// Per term: index into the customer vector (>= 0) or `-1 - contextIndex` for context features.
  @usableFromInline let sources: [Int32]
  /// Per term: the categorical code the term is an indicator of, or NaN for a numeric term.
  @usableFromInline let levels: [Float]
  let means: [Double]
  @usableFromInline let weights: [Double]
  /// Per term: index into ``featureNames`` (levels of one categorical feature share it).
  public let termFeature: [Int]
  /// Hot-path layout: numeric customer terms as (index, mean, weight / scale) and indicator terms
  /// as (source, code, contribution when set, contribution when not), in flat immutable buffers.
  @usableFromInline let numeric: FlatTerms.View
  @usableFromInline let indicators: FlatTerms.View
  /// Owns the buffers the views point into.
  let storage: [FlatTerms]
  /// The distinct features the model reads, for reason codes.
  public let featureNames: [String]
  /// How well the model did when it was trained.
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
        guard case .categorical(let known) = schema.definition(of: source).kind, let code = known.firstIndex(of: level)
        else {
          throw ArbiterError(.failedPrecondition, "\(what): '\(term.feature)' has no level '\(level)' in the schema")
        }
        levels.append(Float(code))
      } else {
        levels.append(.nan)
      }
      if let existing = names.firstIndex(of: term.feature) {
        termFeature.append(existing)
      } else {
        names.append(term.feature)
        termFeature.append(names.count - 1)
      }
    }
    self.offerId = document.offerId
    self.intercept = document.intercept
    self.sources = sources
    self.levels = levels
    self.means = document.terms.map(\.mean)
    self.weights = document.terms.map(\.weight)
    self.termFeature = termFeature
    self.featureNames = names
    self.metrics = document.metrics
    var numeric = FlatTerms.Builder(), indicators = FlatTerms.Builder()
    var numericFeatures: [Int32] = [], indicatorFeatures: [Int32] = []
    // Customer-vector numeric terms first (the unrolled loop), then context ones.
    let order = document.terms.indices.sorted { (sources[$0] < 0 ? 1 : 0, $0) < (sources[$1] < 0 ? 1 : 0, $1) }
    for t in order {
      let term = document.terms[t]
      let coefficient = term.weight / term.scale
      if levels[t].isNaN {
        numeric.add(source: sources[t], a: term.mean, b: coefficient, code: 0)
        numericFeatures.append(Int32(termFeature[t]))
      } else {
        indicatorFeatures.append(Int32(termFeature[t]))
        // x == level contributes weight × (1 − mean) / scale, otherwise weight × (0 − mean) / scale.
        indicators.add(
          source: sources[t], a: coefficient * (1 - term.mean), b: coefficient * (0 - term.mean), code: levels[t])
      }
    }
    numeric.customerCount = zip(numeric.sources, numeric.sources.indices).filter { $0.0 >= 0 }.count
    let numericTerms = numeric.build(), indicatorTerms = indicators.build()
    self.storage = [numericTerms, indicatorTerms]
    self.numeric = numericTerms.view
    self.indicators = indicatorTerms.view
    self.dense = DenseLogistic(document, sources: sources, levels: levels, layout: ScoringLayout(schema: schema))
    self.numericFeatures = numericFeatures
    self.indicatorFeatures = indicatorFeatures
  }

  /// Per term of ``numeric`` and of ``indicators``: its slot in ``featureNames``.
  let numericFeatures: [Int32]
  let indicatorFeatures: [Int32]

  /// The same model over a ``ScoringRow``: one dense weight per position and, per categorical
  /// feature, a table of its contribution by code.
  @usableFromInline let dense: DenseLogistic

  /// The log-odds from a prepared row: equal to ``logit(customer:context:)`` up to the order of
  /// the additions.
  @inlinable
  public func logit(row: ScoringRow) -> Double { dense.logit(row) }

  /// The number of terms of the model.
  public var termCount: Int { weights.count }

  /// The model's log-odds for one customer in one context. Missing values contribute nothing.
  @inlinable
  public func logit(customer: UnsafeBufferPointer<Float>, context: UnsafeBufferPointer<Float>) -> Double {
    let x = customer.baseAddress!
    let c = context.baseAddress
    let n = numeric
    // Four partial sums break the add latency chain; a missing value scores as its mean (0).
    var z0 = 0.0, z1 = 0.0, z2 = 0.0, z3 = 0.0
    var t = 0
    let customerTerms = n.customerCount
    while t + 4 <= customerTerms {
      let r0 = x[Int(n.sources[t])], r1 = x[Int(n.sources[t + 1])], r2 = x[Int(n.sources[t + 2])],
        r3 = x[Int(n.sources[t + 3])]
      z0 += ((r0.isNaN ? n.a[t] : Double(r0)) - n.a[t]) * n.b[t]
      z1 += ((r1.isNaN ? n.a[t + 1] : Double(r1)) - n.a[t + 1]) * n.b[t + 1]
      z2 += ((r2.isNaN ? n.a[t + 2] : Double(r2)) - n.a[t + 2]) * n.b[t + 2]
      z3 += ((r3.isNaN ? n.a[t + 3] : Double(r3)) - n.a[t + 3]) * n.b[t + 3]
      t += 4
    }
    while t < n.count {
      let source = Int(n.sources[t])
      let raw = source >= 0 ? x[source] : c![-1 - source]
      if !raw.isNaN { z0 += (Double(raw) - n.a[t]) * n.b[t] }
      t += 1
    }
    var z = intercept + ((z0 + z1) + (z2 + z3))
    let k = indicators
    for t in 0..<k.count {
      let source = Int(k.sources[t])
      let raw = source >= 0 ? x[source] : c![-1 - source]
      if !raw.isNaN { z += raw == k.codes[t] ? k.a[t] : k.b[t] }
    }
    return z
  }

  /// The propensity from a prepared row.
  @inlinable
  public func propensity(row: ScoringRow) -> Double { sigmoid(logit(row: row)) }

  /// The propensity (probability of acceptance).
  @inlinable
  public func propensity(customer: UnsafeBufferPointer<Float>, context: UnsafeBufferPointer<Float>) -> Double {
    sigmoid(logit(customer: customer, context: context))
  }

  /// Term `t`'s source: a customer index (>= 0) or `-1 - contextIndex`.
  public func sourceOfTerm(_ t: Int) -> Int32 { sources[t] }
  /// Whether term `t` is the indicator of a categorical level.
  public func isIndicatorTerm(_ t: Int) -> Bool { !levels[t].isNaN }
  /// Term `t`'s training mean.
  public func meanOfTerm(_ t: Int) -> Double { means[t] }

  /// Exact per-feature contributions to the log-odds relative to the training mean, written into
  /// `into` (indexed like ``featureNames``; must have that many elements): per term, the
  /// standardised value times the weight (a missing value contributes nothing). Read from the
  /// flat term buffers, like ``logit(customer:context:)``.
  public func contributions(
    customer: UnsafeBufferPointer<Float>, context: UnsafeBufferPointer<Float>, into: inout [Double]
  ) {
    precondition(
      into.count == featureNames.count, "contributions: \(into.count) slots for \(featureNames.count) features")
    let x = customer.baseAddress!
    let c = context.baseAddress
    let n = numeric, k = indicators
    into.withUnsafeMutableBufferPointer { out in
      for i in out.indices { out[i] = 0 }
      numericFeatures.withUnsafeBufferPointer { features in
        for t in 0..<n.count {
          let source = Int(n.sources[t])
          let raw = source >= 0 ? x[source] : c![-1 - source]
          if !raw.isNaN { out[Int(features[t])] += (Double(raw) - n.a[t]) * n.b[t] }
        }
      }
      indicatorFeatures.withUnsafeBufferPointer { features in
        for t in 0..<k.count {
          let source = Int(k.sources[t])
          let raw = source >= 0 ? x[source] : c![-1 - source]
          if !raw.isNaN { out[Int(features[t])] += raw == k.codes[t] ? k.a[t] : k.b[t] }
        }
      }
    }
  }
}

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// A logistic model as dense weights over a ``ScoringLayout`` (x − mean folded into the
/// intercept) plus a contribution table per categorical feature; immutable, allocated once.
@usableFromInline
final class DenseLogistic: @unchecked Sendable {
  let count: Int
  let intercept: Double
  let weights: UnsafeMutablePointer<Double>
  /// Positions of numeric terms, as bitset words, and per position weight × mean: a missing
  /// value contributes nothing, so its share of the folded intercept is added back.
  let reads: UnsafeMutablePointer<UInt64>
  let meanShares: UnsafeMutablePointer<Double>
  let words: Int
  /// Per categorical feature read: its position and where its table starts in `tables`.
  let tablePositions: [Int32]
  let tableStarts: [Int32]
  let tables: UnsafeMutablePointer<Double>
  let tableCount: Int

  init(_ document: LogisticModelDocument, sources: [Int32], levels: [Float], layout: ScoringLayout) {
    count = layout.count
    words = layout.words
    weights = .allocate(capacity: max(1, count))
    weights.initialize(repeating: 0, count: max(1, count))
    reads = .allocate(capacity: max(1, words))
    reads.initialize(repeating: 0, count: max(1, words))
    meanShares = .allocate(capacity: max(1, count))
    meanShares.initialize(repeating: 0, count: max(1, count))
    var intercept = document.intercept
    var positions: [Int32] = [], starts: [Int32] = [], table: [Double] = []
    for (t, term) in document.terms.enumerated() {
      let position = sources[t] >= 0 ? Int(sources[t]) : layout.customerCount + Int(-1 - sources[t])
      let coefficient = term.weight / term.scale
      if levels[t].isNaN {
        weights[position] += coefficient
        intercept -= coefficient * term.mean
        meanShares[position] += coefficient * term.mean
        reads[position >> 6] |= 1 << UInt64(position & 63)
        continue
      }
      // Indicator: code == level adds coefficient × (1 − mean), any other present value
      // coefficient × (0 − mean); missing adds nothing. Slots: codes, unknown, missing.
      let levelCount = Int(layout.levelCounts[position])
      var start: Int
      if let k = positions.firstIndex(of: Int32(position)) {
        start = Int(starts[k])
      } else {
        start = table.count
        positions.append(Int32(position))
        starts.append(Int32(start))
        table.append(contentsOf: [Double](repeating: 0, count: levelCount + 2))
      }
      for code in 0...levelCount {
        table[start + code] += coefficient * ((Float(code) == levels[t] ? 1 : 0) - term.mean)
      }
    }
    self.intercept = intercept
    tablePositions = positions
    tableStarts = starts
    tableCount = table.count
    tables = .allocate(capacity: max(1, table.count))
    tables.initialize(from: table, count: table.count)
  }

  deinit {
    weights.deallocate()
    reads.deallocate()
    meanShares.deallocate()
    tables.deallocate()
  }

  /// The log-odds.
  @usableFromInline
  func logit(_ row: ScoringRow) -> Double {
    var missingShare = 0.0
    for w in 0..<words {
      var bits = reads[w] & row.missing[w]
      while bits != 0 {
        missingShare += meanShares[w << 6 | bits.trailingZeroBitCount]
        bits &= bits - 1
      }
    }
    let x = row.values, b = weights
    var z0 = 0.0, z1 = 0.0, z2 = 0.0, z3 = 0.0
    var i = 0
    while i + 4 <= count {
      z0 += x[i] * b[i]
      z1 += x[i + 1] * b[i + 1]
      z2 += x[i + 2] * b[i + 2]
      z3 += x[i + 3] * b[i + 3]
      i += 4
    }
    while i < count {
      z0 += x[i] * b[i]
      i += 1
    }
    var z = intercept + ((z0 + z1) + (z2 + z3)) + missingShare
    for k in 0..<tablePositions.count {
      z += tables[Int(tableStarts[k]) + Int(row.slots[Int(tablePositions[k])])]
    }
    return z
  }
}

/// Logistic terms in flat buffers allocated once per model (immutable; shared by copies).
@usableFromInline
final class FlatTerms: @unchecked Sendable {
  @usableFromInline let count: Int
  /// The first `customerCount` terms read the customer vector.
  @usableFromInline let customerCount: Int
  @usableFromInline let sources: UnsafeMutablePointer<Int32>
  @usableFromInline let a: UnsafeMutablePointer<Double>
  @usableFromInline let b: UnsafeMutablePointer<Double>
  @usableFromInline let codes: UnsafeMutablePointer<Float>

  struct Builder {
    var sources: [Int32] = [], a: [Double] = [], b: [Double] = [], codes: [Float] = []
    var customerCount = 0
    mutating func add(source: Int32, a: Double, b: Double, code: Float) {
      sources.append(source)
      self.a.append(a)
      self.b.append(b)
      codes.append(code)
    }
    func build() -> FlatTerms { FlatTerms(self) }
  }

  /// The buffers without ownership: reading through a view touches no reference count.
  @usableFromInline
  struct View: @unchecked Sendable {
    @usableFromInline let count: Int
    @usableFromInline let customerCount: Int
    @usableFromInline let sources: UnsafeMutablePointer<Int32>
    @usableFromInline let a: UnsafeMutablePointer<Double>
    @usableFromInline let b: UnsafeMutablePointer<Double>
    @usableFromInline let codes: UnsafeMutablePointer<Float>
  }

  var view: View { View(count: count, customerCount: customerCount, sources: sources, a: a, b: b, codes: codes) }

  init(_ builder: Builder) {
    count = builder.sources.count
    customerCount = builder.customerCount
    sources = .allocate(capacity: max(1, count))
    a = .allocate(capacity: max(1, count))
    b = .allocate(capacity: max(1, count))
    codes = .allocate(capacity: max(1, count))
    sources.initialize(from: builder.sources, count: count)
    a.initialize(from: builder.a, count: count)
    b.initialize(from: builder.b, count: count)
    codes.initialize(from: builder.codes, count: count)
  }

  deinit {
    sources.deallocate()
    a.deallocate()
    b.deallocate()
    codes.deallocate()
  }
}
