import Atomics

#if canImport(Glibc)
  import Glibc
#endif

/// How many offers one decision did not make, by reason: a plain value counted as the decision
/// goes (no allocation), added to the server's ``SuppressionCounts`` once it is made.
public struct SuppressionTally: Sendable, Equatable {
  var counts = SIMD16<UInt16>(repeating: 0)

  /// No offer counted.
  public init() {}

  @inline(__always)
  mutating func add(_ code: Suppression.Code) { counts[code.slot] &+= 1 }

  /// The count for `code`.
  public subscript(code: Suppression.Code) -> Int { Int(counts[code.slot]) }
}

extension Suppression.Code {
  /// Every code, in the order the tallies keep them.
  public static let all: [Suppression.Code] = [
    .notValidNow, .channelNotAllowed, .noConsent, .alreadyHeld, .ageRule, .rule, .suitability, .contactPolicy,
    .budget, .capacity, .closed, .controlGroup, .belowCost, .rankedBelow,
  ]

  @inline(__always)
  var slot: Int {
    switch self {
    case .notValidNow: 0
    case .channelNotAllowed: 1
    case .noConsent: 2
    case .alreadyHeld: 3
    case .ageRule: 4
    case .rule: 5
    case .suitability: 6
    case .contactPolicy: 7
    case .budget: 8
    case .capacity: 9
    case .closed: 10
    case .controlGroup: 11
    case .belowCost: 12
    case .rankedBelow: 13
    }
  }
}

/// Offers not made, by reason, over every decision since start: relaxed atomic counters striped by
/// thread, so that decisions on different threads seldom touch the same cache line (no shared
/// counter picks the stripe).
public final class SuppressionCounts: Sendable {
  private static let stripes = 8
  private let counters: [ManagedAtomic<UInt64>]

  /// Counts at zero.
  public init() {
    counters = (0..<(Self.stripes * 16)).map { _ in ManagedAtomic<UInt64>(0) }
  }

  /// Adds one decision's tally.
  public func add(_ tally: SuppressionTally) {
    guard tally.counts != SIMD16(repeating: 0) else { return }
    // The thread's id, hashed to one of the 8 stripes (the top 3 bits).
    let stripe = Int(truncatingIfNeeded: (UInt64(UInt(pthread_self())) &* 0x9E37_79B9_7F4A_7C15) >> 61)
    for slot in 0..<Suppression.Code.all.count where tally.counts[slot] != 0 {
      counters[stripe * 16 + slot].wrappingIncrement(by: UInt64(tally.counts[slot]), ordering: .relaxed)
    }
  }

  /// The totals, by code, in ``Suppression/Code/all``'s order.
  public func totals() -> [(code: Suppression.Code, count: UInt64)] {
    Suppression.Code.all.map { code in
      (code, (0..<Self.stripes).reduce(0) { $0 + counters[$1 * 16 + code.slot].load(ordering: .relaxed) })
    }
  }
}
