import ArbiterCore
import Atomics
import Synchronization

/// Offer quotas and channel capacity, shared by every decision (inbound and outbound) and kept
/// across bundle reloads. A limit is never exceeded: use is reserved with one compare-and-swap,
/// and refused when it would go over. Use is paced across its period by a shadow price that
/// grows with how far use runs ahead of an even spread.
public final class PacingState: Sendable {
  /// One limited resource: a quota (offers per period) or a channel's capacity (units per hour).
  public final class Budget: Sendable {
    /// Limit per period, in thousandths of a unit.
    let limit: UInt64
    let periodDays: Double
    /// Used thousandths in the low 40 bits, period number in the high 24.
    private let state: ManagedAtomic<UInt64>
    /// What exceeding the pace by the whole limit costs, in currency (see ``price(at:)``).
    public let priceScale: Double

    init(limit: Double, periodDays: Double, priceScale: Double, word: UInt64 = 0) {
      self.limit = UInt64((limit * 1000).rounded())
      self.periodDays = periodDays
      self.priceScale = priceScale
      self.state = ManagedAtomic(word)
    }

    /// The use and its period as one word (see ``PacingCheckpoint``).
    var word: UInt64 { state.load(ordering: .relaxed) }

    private func period(_ nowDays: Double) -> UInt64 {
      UInt64(max(0, (nowDays / periodDays).rounded(.down))) & 0xFF_FFFF
    }

    /// Units used in the current period.
    public func used(at nowDays: Double) -> Double {
      let word = state.load(ordering: .relaxed)
      return word >> 40 == period(nowDays) ? Double(word & 0xFF_FFFF_FFFF) / 1000 : 0
    }

    /// The limit per period, in units (offers for a quota, capacity units for a channel).
    public var limitUnits: Double { Double(limit) / 1000 }

    /// Reserves `units`; false (and nothing reserved) when the limit would be exceeded.
    public func reserve(_ units: Double, at nowDays: Double) -> Bool {
      let amount = UInt64((units * 1000).rounded())
      let current = period(nowDays)
      var word = state.load(ordering: .relaxed)
      while true {
        let used = word >> 40 == current ? word & 0xFF_FFFF_FFFF : 0
        guard used + amount <= limit else { return false }
        let (exchanged, original) = state.compareExchange(
          expected: word, desired: current << 40 | (used + amount), ordering: .relaxed)
        if exchanged { return true }
        word = original
      }
    }

    /// Returns units reserved for an offer that was then not shown.
    public func release(_ units: Double, at nowDays: Double) {
      let amount = UInt64((units * 1000).rounded())
      let current = period(nowDays)
      var word = state.load(ordering: .relaxed)
      while word >> 40 == current {
        let used = word & 0xFF_FFFF_FFFF
        let (exchanged, original) = state.compareExchange(
          expected: word, desired: current << 40 | (used - min(used, amount)), ordering: .relaxed)
        if exchanged { return }
        word = original
      }
    }

    /// The shadow price now: 0 while use is within the even spread (plus 2% slack), rising by
    /// `priceScale` × 10 per whole limit ahead of it — so 10% ahead costs `priceScale`.
    public func price(at nowDays: Double) -> Double {
      let elapsed = (nowDays / periodDays) - (nowDays / periodDays).rounded(.down)
      let pace = Double(limit) / 1000 * (elapsed + 0.02)
      let ahead = (used(at: nowDays) - pace) / max(Double(limit) / 1000, 1e-9)
      return ahead > 0 ? priceScale * 10 * ahead : 0
    }
  }

  private let budgets = Mutex<[String: Budget]>([:])
  /// Use read back from a checkpoint, taken up by the budget of the same key, limit and period
  /// when it is first asked for.
  private let restored: [String: PacingCheckpoint.Entry]

  /// Pacing with nothing used yet, or continuing the use a checkpoint recorded (a restart).
  public init(restoring checkpoint: PacingCheckpoint? = nil) {
    var restored: [String: PacingCheckpoint.Entry] = [:]
    for entry in checkpoint?.budgets ?? [] { restored[entry.key] = entry }
    self.restored = restored
  }

  /// Every budget's use now, to be written where a restart finds it.
  public func checkpoint() -> PacingCheckpoint {
    budgets.withLock { all in
      PacingCheckpoint(
        budgets: all.keys.sorted().map { key in
          let budget = all[key]!
          return PacingCheckpoint.Entry(key: key, limit: budget.limit, periodDays: budget.periodDays, word: budget.word)
        })
    }
  }

  /// One budget's use in its current period, for the dashboard.
  public struct Use: Sendable, Hashable {
    /// "quota:<offer>" or "capacity:<channel>".
    public var key: String
    /// Units used in the current period.
    public var used: Double
    /// The period's limit in units.
    public var limit: Double
    /// The period's length in days.
    public var periodDays: Double
    /// When the current period began, in days since the epoch.
    public var periodStartDays: Double
  }

  /// Every budget's use at `nowDays`, by key.
  public func uses(at nowDays: Double) -> [Use] {
    budgets.withLock { all in
      all.keys.sorted().map { key in
        let budget = all[key]!
        let start = (nowDays / budget.periodDays).rounded(.down) * budget.periodDays
        return Use(
          key: key, used: budget.used(at: nowDays), limit: budget.limitUnits, periodDays: budget.periodDays,
          periodStartDays: start)
      }
    }
  }

  /// The budget named `key` with this limit and period, created on first use; a changed limit
  /// or period (a new catalogue) starts a new budget.
  public func budget(key: String, limit: Double, periodDays: Double, priceScale: Double) -> Budget {
    budgets.withLock { all in
      if let existing = all[key], existing.limit == UInt64((limit * 1000).rounded()), existing.periodDays == periodDays,
        existing.priceScale == priceScale
      {
        return existing
      }
      let thousandths = UInt64((limit * 1000).rounded())
      let carried = restored[key].flatMap { $0.limit == thousandths && $0.periodDays == periodDays ? $0.word : nil }
      let fresh = Budget(limit: limit, periodDays: periodDays, priceScale: priceScale, word: carried ?? 0)
      all[key] = fresh
      return fresh
    }
  }
}

/// Quota and capacity use as written for a restart: per budget its key, limit (thousandths),
/// period and the use word (period number and used thousandths). A budget whose limit or period
/// changed meanwhile starts empty, as it does on a reload.
public struct PacingCheckpoint: Codable, Sendable, Equatable {
  /// One budget's use.
  public struct Entry: Codable, Sendable, Equatable {
    /// The budget's name, e.g. "quota:<offer id>" or "capacity:<channel>".
    public var key: String
    /// The budget's limit per period, in thousandths of a unit.
    public var limit: UInt64
    /// The budget's period, in days.
    public var periodDays: Double
    /// The use word: period number in the high 24 bits, used thousandths in the low 40.
    public var word: UInt64
  }

  /// Every budget's use, sorted by key.
  public var budgets: [Entry]
}
