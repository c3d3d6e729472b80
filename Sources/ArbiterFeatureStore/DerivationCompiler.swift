import ArbiterCore

/// The stages of compiling a schema's derivations (see ``CompiledDerivations/init(schema:)``): each
/// derived feature by its kind, then the check that decays have a clock, then the table of distinct
/// half-lives. Every error names the feature and the field.
struct DerivationCompiler {
  typealias Accumulator = CompiledDerivations.Accumulator
  typealias Stamp = CompiledDerivations.Stamp
  typealias Trend = CompiledDerivations.Trend

  let schema: FeatureSchema
  private(set) var clock: Int?
  private(set) var accumulators: [Accumulator] = []
  private(set) var recencies: [Stamp] = []
  private(set) var triggers: [Stamp] = []
  private(set) var trends: [Trend] = []

  /// A compiler with nothing compiled yet.
  init(schema: FeatureSchema) { self.schema = schema }

  /// Compiles every feature of the schema that has a `derive`, in schema order.
  mutating func compileFeatures() throws(ArbiterError) {
    for (index, feature) in schema.customerFeatures.enumerated() {
      guard let derive = feature.derive else { continue }
      try compile(DerivedFeature(index: index, derive: derive, what: "schema: feature '\(feature.name)' (derive)"))
    }
  }

  /// Adds one derived feature to the table of its kind (the clock, an accumulator, a recency, a
  /// trigger or a trend); a moving-average state needs nothing.
  private mutating func compile(_ feature: DerivedFeature) throws(ArbiterError) {
    let derive = feature.derive
    switch derive.kind {
    case .clock:
      guard clock == nil else {
        throw ArbiterError(.invalidArgument, "\(feature.what): a schema has at most one clock")
      }
      clock = feature.index
    case .state: break
    case .count, .sum, .balance:
      let f = try feature.filter()
      let kind: CompiledDerivations.AccumulatorKind =
        derive.kind == .count ? .count : (derive.kind == .sum ? .sum : .balance)
      let h = kind == .balance ? nil : try feature.halfLife(required: false)
      accumulators.append(Accumulator(index: feature.index, kind: kind, filter: f, halfLife: h, direction: f.direction))
    case .recency:
      recencies.append(Stamp(index: feature.index, filter: try feature.filter(), threshold: 0, expires: .infinity))
    case .trigger:
      triggers.append(try trigger(feature))
    case .trend:
      trends.append(
        Trend(
          index: feature.index, source: try feature.featureIndex(derive.source, field: "source", in: schema),
          state: try feature.featureIndex(derive.state, field: "state", in: schema),
          halfLife: try feature.halfLife(required: true)!))
    }
  }

  /// A trigger's threshold (a number >= 0) and expiry (positive days) checked, then its filter.
  private func trigger(_ feature: DerivedFeature) throws(ArbiterError) -> Stamp {
    guard let threshold = feature.derive.threshold, threshold.isFinite, threshold >= 0 else {
      throw ArbiterError(.invalidArgument, "\(feature.what).threshold must be a number >= 0")
    }
    guard let expires = feature.derive.expiresAfterDays, expires > 0 else {
      throw ArbiterError(.invalidArgument, "\(feature.what).expiresAfterDays must be positive")
    }
    return Stamp(index: feature.index, filter: try feature.filter(), threshold: threshold, expires: expires)
  }

  /// Refuses decayed accumulators and trends in a schema without a clock to decay them from.
  func checkDecaysHaveClock() throws(ArbiterError) {
    let decays = accumulators.contains { $0.halfLife != nil } || !trends.isEmpty
    if decays && clock == nil {
      throw ArbiterError(
        .invalidArgument, "schema: decayed features and trends need a feature with derive kind 'clock'")
    }
  }

  /// The distinct half-lives of the decayed accumulators, in order of first use, and each decayed
  /// accumulator's (feature index, half-life slot).
  func decayTable() -> (halfLives: [Double], decayed: [(index: Int, slot: Int)]) {
    var halfLives: [Double] = []
    var decayed: [(index: Int, slot: Int)] = []
    for a in accumulators {
      guard let h = a.halfLife else { continue }
      if !halfLives.contains(h) { halfLives.append(h) }
      decayed.append((a.index, halfLives.firstIndex(of: h)!))
    }
    return (halfLives, decayed)
  }
}

extension DerivationCompiler {
  /// One feature's `derive` with what its errors call it ("schema: feature 'x' (derive)").
  struct DerivedFeature {
    let index: Int
    let derive: FeatureDerivation
    let what: String

    /// The event filter: kind, transaction channel and direction, each optional.
    func filter() throws(ArbiterError) -> CompiledDerivations.Filter {
      var kind: UInt8 = 0
      if let name = derive.event {
        guard let parsed = CustomerEvent.Kind(rawValue: name) else {
          throw ArbiterError(
            .invalidArgument, "\(what).event: unknown event kind '\(name)' (transaction, page_view, call, transfer)")
        }
        kind = parsed.code
      }
      var channel: CustomerEvent.TransactionChannel?
      if let name = derive.channel {
        guard let parsed = CustomerEvent.TransactionChannel(rawValue: name), parsed != .none else {
          throw ArbiterError(
            .invalidArgument, "\(what).channel: unknown channel '\(name)' (atm, branch, card, online, phone)")
        }
        channel = parsed
      }
      var direction: Int8 = 0
      switch derive.direction {
      case nil: break
      case "in": direction = 1
      case "out": direction = -1
      case let other?: throw ArbiterError(.invalidArgument, "\(what).direction: '\(other)' is not 'in' or 'out'")
      }
      return CompiledDerivations.Filter(kind: kind, channel: channel, direction: direction)
    }

    /// The half-life in days (positive), nil when absent and not `required`.
    func halfLife(required: Bool) throws(ArbiterError) -> Double? {
      guard let h = derive.halfLifeDays else {
        if required { throw ArbiterError(.invalidArgument, "\(what).halfLifeDays is required") }
        return nil
      }
      guard h.isFinite, h > 0 else { throw ArbiterError(.invalidArgument, "\(what).halfLifeDays must be positive") }
      return h
    }

    /// The index of the schema feature a field names (a trend's source or state).
    func featureIndex(_ name: String?, field: String, in schema: FeatureSchema) throws(ArbiterError) -> Int {
      guard let name else { throw ArbiterError(.invalidArgument, "\(what).\(field) is required") }
      guard let found = schema.customerIndex(of: name) else {
        throw ArbiterError(.invalidArgument, "\(what).\(field): no feature '\(name)' in the schema")
      }
      return found
    }
  }
}
