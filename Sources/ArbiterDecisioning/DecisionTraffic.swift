import Atomics
import Foundation

/// Decisions per door (gRPC, lean, HTTP) for the dashboard: a count, the count of each of the
/// last 128 seconds, and the latencies of the most recent 2,048, each written with a few relaxed
/// atomic operations (no lock on the request path).
public final class DecisionTraffic: Sendable {
  /// A door decisions come through.
  public enum Door: Int, CaseIterable, Sendable {
    /// gRPC (HTTP/2).
    case grpc
    /// The lean framed protocol.
    case lean
    /// HTTP/JSON.
    case http

    /// "grpc", "lean", "http".
    public var name: String {
      switch self {
      case .grpc: "grpc"
      case .lean: "lean"
      case .http: "http"
      }
    }
  }

  /// One door's figures at a moment.
  public struct DoorSnapshot: Sendable {
    /// The door.
    public var door: Door
    /// Decisions since start.
    public var decisions: UInt64
    /// Decisions in each of the last `seconds` seconds, oldest first, the current one last.
    public var perSecond: [UInt32]
    /// Percentiles (p50, p90, p99) of the recent latencies, in microseconds; 0 without any.
    public var p50Micros: Double
    /// The 90th percentile.
    public var p90Micros: Double
    /// The 99th percentile.
    public var p99Micros: Double
  }

  static let buckets = 128
  static let samples = 2_048

  private struct Counters: @unchecked Sendable {
    let total = ManagedAtomic<UInt64>(0)
    /// Each bucket: the second (high 32 bits) and its count (low 32).
    let seconds: UnsafeMutablePointer<UnsafeAtomic<UInt64>.Storage>
    let latencies: UnsafeMutablePointer<UnsafeAtomic<UInt64>.Storage>
    let cursor = ManagedAtomic<UInt64>(0)

    init() {
      seconds = .allocate(capacity: DecisionTraffic.buckets)
      seconds.initialize(repeating: .init(0), count: DecisionTraffic.buckets)
      latencies = .allocate(capacity: DecisionTraffic.samples)
      latencies.initialize(repeating: .init(0), count: DecisionTraffic.samples)
    }
  }

  private let doors: [Counters]

  /// Counters at zero.
  public init() { doors = Door.allCases.map { _ in Counters() } }

  deinit {
    for counters in doors {
      counters.seconds.deallocate()
      counters.latencies.deallocate()
    }
  }

  /// Counts one decision through `door` that took `nanos` from request to answer.
  public func record(_ door: Door, nanos: UInt64, nowSeconds: UInt64 = UInt64(Date().timeIntervalSince1970)) {
    let counters = doors[door.rawValue]
    counters.total.wrappingIncrement(ordering: .relaxed)
    let bucket = UnsafeAtomic<UInt64>(at: counters.seconds + Int(nowSeconds % UInt64(Self.buckets)))
    var current = bucket.load(ordering: .relaxed)
    while true {
      let next = current >> 32 == nowSeconds & 0xFFFF_FFFF ? current + 1 : (nowSeconds << 32) | 1
      let (exchanged, original) = bucket.weakCompareExchange(
        expected: current, desired: next, ordering: .relaxed)
      if exchanged { break }
      current = original
    }
    let slot = counters.cursor.loadThenWrappingIncrement(ordering: .relaxed) % UInt64(Self.samples)
    UnsafeAtomic<UInt64>(at: counters.latencies + Int(slot)).store(max(nanos, 1), ordering: .relaxed)
  }

  /// Counts one decision through `door` that started at `started` (`DispatchTime` uptime
  /// nanoseconds) and is answered now.
  public func record(_ door: Door, since started: UInt64) {
    record(door, nanos: DispatchTime.now().uptimeNanoseconds &- started)
  }

  /// Every door's figures, with the last `seconds` seconds (at most 128) up to `nowSeconds`.
  public func snapshot(seconds: Int = 120, nowSeconds: UInt64 = UInt64(Date().timeIntervalSince1970)) -> [DoorSnapshot]
  {
    let span = min(seconds, Self.buckets - 1)
    return Door.allCases.map { door in
      let counters = doors[door.rawValue]
      var perSecond: [UInt32] = []
      for back in (0..<span).reversed() {
        let second = nowSeconds - UInt64(back)
        let value = UnsafeAtomic<UInt64>(at: counters.seconds + Int(second % UInt64(Self.buckets)))
          .load(ordering: .relaxed)
        perSecond.append(value >> 32 == second & 0xFFFF_FFFF ? UInt32(truncatingIfNeeded: value) : 0)
      }
      var recent: [UInt64] = []
      recent.reserveCapacity(Self.samples)
      for i in 0..<Self.samples {
        let value = UnsafeAtomic<UInt64>(at: counters.latencies + i).load(ordering: .relaxed)
        if value != 0 { recent.append(value) }
      }
      recent.sort()
      func percentile(_ p: Double) -> Double {
        guard !recent.isEmpty else { return 0 }
        let rank = min(recent.count - 1, Int((p * Double(recent.count)).rounded(.up)) - 1)
        return Double(recent[max(0, rank)]) / 1_000
      }
      return DoorSnapshot(
        door: door, decisions: counters.total.load(ordering: .relaxed), perSecond: perSecond,
        p50Micros: percentile(0.5), p90Micros: percentile(0.9), p99Micros: percentile(0.99))
    }
  }
}
