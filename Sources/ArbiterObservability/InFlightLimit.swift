import Synchronization

/// One door's requests in flight, bounded at ``limit``: a request takes a place when it is read
/// (or is shed, answered RESOURCE_EXHAUSTED at once, when there is none) and gives it back when
/// its answer is on its way. Exported as `arbiter_requests_in_flight` and
/// `arbiter_requests_shed_total`.
///
/// Admission is one atomic add: a shed request costs its decoding and a short error frame, a
/// small part of a decision, so that a door far past its capacity still answers what it admits
/// in good time (BENCHMARKS.md, load shedding).
public final class InFlightLimit: Sendable {
  /// The door: `grpc`, `lean` or `http`.
  public let door: String
  /// The most requests in flight at once.
  public let limit: Int
  /// The longest a request may have waited at the door before it is admitted, in nanoseconds
  /// (`UInt64.max`: no limit).
  public let maxQueueNanos: UInt64
  /// What a request shed for its wait is told.
  public let delayRefusalMessage: String
  private let inFlight = Atomic<Int>(0)
  private let shedCount = Atomic<UInt64>(0)

  /// A limit for `door` allowing `limit` requests in flight, and (when `maxQueueDelay` is given)
  /// none that waited longer than it before its turn.
  public init(door: String, limit: Int, maxQueueDelay: Duration? = nil) {
    self.door = door
    self.limit = limit
    if let maxQueueDelay {
      let (seconds, attoseconds) = maxQueueDelay.components
      maxQueueNanos = UInt64(max(0, seconds)) * 1_000_000_000 + UInt64(max(0, attoseconds) / 1_000_000_000)
    } else {
      maxQueueNanos = .max
    }
    let millis = (Double(maxQueueNanos == .max ? 0 : maxQueueNanos) / 1e3).rounded() / 1e3
    delayRefusalMessage = "the \(door) door is behind: this request waited past its limit of \(millis) ms; try again later"
  }

  /// Takes a place for a request that waited `waitedNanos` at the door; false (counted as shed)
  /// when it waited too long (``delayRefusalMessage``) or all places are taken (``refusalMessage``).
  public func admit(waitedNanos: UInt64) -> Bool {
    if waitedNanos > maxQueueNanos {
      shedCount.add(1, ordering: .relaxed)
      return false
    }
    return admit()
  }

  /// Takes a place for a request; false (counted as shed) when all are taken.
  public func admit() -> Bool {
    if inFlight.add(1, ordering: .relaxed).newValue > limit {
      inFlight.subtract(1, ordering: .relaxed)
      shedCount.add(1, ordering: .relaxed)
      return false
    }
    return true
  }

  /// Gives back `count` places taken by ``admit()``.
  public func release(_ count: Int = 1) { inFlight.subtract(count, ordering: .relaxed) }

  /// Requests in flight now.
  public var inFlightNow: Int { inFlight.load(ordering: .relaxed) }
  /// Requests shed since start.
  public var shed: UInt64 { shedCount.load(ordering: .relaxed) }

  /// What a shed request is told: the door, the limit, and to try again.
  public var refusalMessage: String {
    "the \(door) door has its limit of \(limit) requests in flight; try again later"
  }
}
