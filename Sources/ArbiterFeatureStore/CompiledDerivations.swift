import ArbiterCore
import Foundation

/// The schema's derivations compiled to feature indices: how an event changes a stored row, and
/// how a stored row reads at a given moment (decayed, recency, triggers, trends).
public struct CompiledDerivations: Sendable {
  struct Filter: Sendable {
    /// 0 matches any event kind.
    var kind: UInt8
    /// nil matches any transaction channel.
    var channel: CustomerEvent.TransactionChannel?
    /// 0 any, 1 incoming (amount > 0), -1 outgoing (amount < 0).
    var direction: Int8

    @inline(__always) func matches(_ event: CustomerEvent) -> Bool {
      if kind != 0 && kind != event.kind.code { return false }
      if let channel, channel != event.channel { return false }
      if direction > 0 && !(event.amount > 0) { return false }
      if direction < 0 && !(event.amount < 0) { return false }
      return true
    }
  }
  enum AccumulatorKind: Sendable { case count, sum, balance }
  struct Accumulator: Sendable {
    var index: Int; var kind: AccumulatorKind; var filter: Filter; var halfLife: Double?; var direction: Int8
  }
  struct Stamp: Sendable { var index: Int; var filter: Filter; var threshold: Double; var expires: Double }
  struct Trend: Sendable { var index: Int; var source: Int; var state: Int; var halfLife: Double }

  let clock: Int?
  let accumulators: [Accumulator]
  /// Distinct half-lives of decayed accumulators, and each decayed accumulator's (index, slot).
  let halfLives: [Double]
  let decayed: [(index: Int, slot: Int)]
  let recencies: [Stamp]
  let triggers: [Stamp]
  let trends: [Trend]

  /// Whether any feature is derived from events (or is the clock).
  public var isEmpty: Bool {
    clock == nil && accumulators.isEmpty && recencies.isEmpty && triggers.isEmpty && trends.isEmpty
  }

  /// Compiles and validates; errors name the feature and the field (the stages are
  /// ``DerivationCompiler``'s).
  public init(schema: FeatureSchema) throws(ArbiterError) {
    var compiler = DerivationCompiler(schema: schema)
    try compiler.compileFeatures()
    try compiler.checkDecaysHaveClock()
    let table = compiler.decayTable()
    self.clock = compiler.clock
    self.accumulators = compiler.accumulators
    self.halfLives = table.halfLives
    self.decayed = table.decayed
    self.recencies = compiler.recencies
    self.triggers = compiler.triggers
    self.trends = compiler.trends
  }

  /// Applies one event to a stored row in place. Events may arrive out of order: a late event's
  /// contribution is decayed by how late it is, and the clock never goes back.
  public func apply(_ event: CustomerEvent, to row: UnsafeMutablePointer<Float>) {
    let t = event.days
    var elapsed = 0.0, late = 0.0
    if let clock {
      let c = Double(row[clock])
      if c.isNaN { row[clock] = Float(t) } else if t >= c { elapsed = t - c } else { late = c - t }
      if elapsed > 0 {
        for a in accumulators {
          if let h = a.halfLife {
            row[a.index] = Float(Double(row[a.index].isNaN ? 0 : row[a.index]) * exp2(-elapsed / h))
          }
        }
        for trend in trends {
          let s = Double(row[trend.source]), e = Double(row[trend.state])
          if s.isNaN { continue }
          row[trend.state] = Float(e.isNaN ? s : s + (e - s) * exp2(-elapsed / trend.halfLife))
        }
      }
      if t > c || c.isNaN { row[clock] = Float(t) }
    }
    for a in accumulators where a.filter.matches(event) {
      var contribution: Double
      switch a.kind {
      case .count: contribution = 1
      case .balance: contribution = event.amount
      case .sum: contribution = a.direction < 0 ? -event.amount : (a.direction > 0 ? event.amount : abs(event.amount))
      }
      if let h = a.halfLife, late > 0 { contribution *= exp2(-late / h) }
      let old = row[a.index]
      row[a.index] = Float((old.isNaN ? 0 : Double(old)) + contribution)
    }
    for r in recencies where r.filter.matches(event) {
      if row[r.index].isNaN || Double(row[r.index]) < t { row[r.index] = Float(t) }
    }
    for g in triggers where g.filter.matches(event) && abs(event.amount) >= g.threshold {
      if row[g.index].isNaN || Double(row[g.index]) < t { row[g.index] = Float(t) }
    }
  }

  /// Turns a stored row (a copy) into what a decision reads at `nowDays`.
  @inlinable
  public func read(_ row: UnsafeMutableBufferPointer<Float>, nowDays: Double) {
    readTransforms(row, nowDays: nowDays)
  }

  @usableFromInline
  func readTransforms(_ row: UnsafeMutableBufferPointer<Float>, nowDays: Double) {
    if isEmpty { return }
    var elapsed = 0.0
    if let clock, !row[clock].isNaN { elapsed = max(0, nowDays - Double(row[clock])) }
    // Trends first: they read their source before anything else changes.
    for trend in trends {
      row[trend.index] = Self.trend(
        source: row[trend.source], state: row[trend.state], elapsed: elapsed, halfLife: trend.halfLife)
    }
    if elapsed > 0 && !decayed.isEmpty {
      // One exp2 per distinct half-life, not per feature.
      withUnsafeTemporaryAllocation(of: Double.self, capacity: halfLives.count) { factors in
        for (i, h) in halfLives.enumerated() { factors[i] = exp2(-elapsed / h) }
        for d in decayed where !row[d.index].isNaN { row[d.index] = Float(Double(row[d.index]) * factors[d.slot]) }
      }
    }
    for r in recencies { if !row[r.index].isNaN { row[r.index] = Float(max(0, nowDays - Double(row[r.index]))) } }
    for g in triggers { row[g.index] = !row[g.index].isNaN && nowDays - Double(row[g.index]) <= g.expires ? 1 : 0 }
    // The clock last (everything above measured from it): days since the newest event, negative
    // when that is ahead of `nowDays`.
    if let clock, !row[clock].isNaN { row[clock] = Float(nowDays - Double(row[clock])) }
  }

  /// A trend as read `elapsed` days after the row's clock: the relative change of `source`
  /// against its moving average `state` decayed to then; NaN when either is missing.
  @usableFromInline
  static func trend(source: Float, state: Float, elapsed: Double, halfLife: Double) -> Float {
    let s = Double(source), e = Double(state)
    if s.isNaN || e.isNaN { return .nan }
    let now = s + (e - s) * exp2(-elapsed / halfLife)
    return Float((s - now) / max(abs(now), 1))
  }

  /// The moving average that reads as trend `t` of source `s`: the inverse of
  /// (s - m) / max(|m|, 1) = t, preferring an average of the source's sign. When no average
  /// gives `t` exactly (t <= -1 and the like), the nearest sensible one: s - t.
  static func average(source s: Double, trend t: Double) -> Double {
    let positive = s / (1 + t)  // m >= 1: s - m = t m
    let negative = s / (1 - t)  // m <= -1: s - m = -t m
    let small = s - t  // |m| < 1
    let candidates = [(positive, positive >= 1), (small, abs(small) < 1), (negative, negative <= -1)]
    let ordered = s >= 0 ? candidates : candidates.reversed()
    return ordered.first { $0.1 && $0.0.isFinite }?.0 ?? small
  }
}

extension CompiledDerivations {
  /// The features that are internal state (the clock, moving averages): never model inputs.
  public static func isInternalState(_ feature: FeatureDefinition) -> Bool {
    feature.derive?.kind == .clock || feature.derive?.kind == .state
  }

  /// Turns a vector as read at `nowDays` (what GetProfile returns, exports, training data and
  /// imports hold: days since, flags, trends) into the stored form that the read at `nowDays`
  /// gives back: the inverse of ``read(_:nowDays:)``, exact but for float rounding where a
  /// decayed value or a moving average is re-based to the row's clock.
  ///
  /// - The clock reads as days since the newest event: missing (a fresh customer) is `nowDays`.
  /// - Decayed counts and sums are scaled back from `nowDays` to the clock; recency and triggers
  ///   become times (a trigger that reads as set keeps the time in `existing`, the customer's
  ///   stored row, while that still reads as set; otherwise it is set at `nowDays`).
  /// - A trend becomes its moving average, re-based to the clock; a moving average given with
  ///   it that already reads as that trend is kept as it is. A missing trend has no average.
  public func materialize(
    _ row: UnsafeMutableBufferPointer<Float>, nowDays: Double, existing: UnsafePointer<Float>? = nil
  ) {
    var elapsed = 0.0
    if let clock {
      let since = Double(row[clock])
      row[clock] = Float(since.isNaN ? nowDays : nowDays - since)
      elapsed = max(0, nowDays - Double(row[clock]))  // as the read measures it
    }
    if elapsed > 0 && !decayed.isEmpty {
      for (i, h) in halfLives.enumerated() {
        let factor = exp2(-elapsed / h)
        for d in decayed where d.slot == i && !row[d.index].isNaN && row[d.index] != 0 {
          row[d.index] = Float(Double(row[d.index]) / factor)
        }
      }
    }
    for r in recencies { if !row[r.index].isNaN { row[r.index] = Float(nowDays - Double(row[r.index])) } }
    for g in triggers {
      guard row[g.index] >= 0.5 else { row[g.index] = .nan; continue }
      if let existing, !existing[g.index].isNaN, nowDays - Double(existing[g.index]) <= g.expires {
        row[g.index] = existing[g.index]
      } else {
        row[g.index] = Float(nowDays)
      }
    }
    for trend in trends {
      let s = Double(row[trend.source]), t = row[trend.index]
      if s.isNaN { continue }
      if t.isNaN { row[trend.state] = .nan; continue }
      let given = row[trend.state]
      let kept = Self.trend(source: row[trend.source], state: given, elapsed: elapsed, halfLife: trend.halfLife)
      if !given.isNaN && kept == t { continue }
      // The average as of `nowDays`, m = s + (e - s) f  ⇒  e = s + (m - s) / f.
      let m = Self.average(source: s, trend: Double(t))
      row[trend.state] = Float(s + (m - s) / exp2(-elapsed / trend.halfLife))
    }
  }

  /// ``materialize(_:nowDays:)`` on a copy.
  public func materialized(_ values: [Float], nowDays: Double) -> [Float] {
    var copy = values
    copy.withUnsafeMutableBufferPointer { materialize($0, nowDays: nowDays) }
    return copy
  }
}
