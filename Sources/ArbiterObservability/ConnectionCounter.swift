import Synchronization

/// One door's open connections, bounded at ``limit``: a connection takes a place when it is
/// accepted (or is refused when there is none) and gives it back when it closes. The counts are
/// exported as `arbiter_connections_open` and `arbiter_connections_refused_total`.
public final class ConnectionCounter: Sendable {
  /// The door: `grpc`, `lean` or `http`.
  public let door: String
  /// The most connections open at once.
  public let limit: Int
  private let open = Atomic<Int>(0)
  private let refusedCount = Atomic<UInt64>(0)

  /// A counter for `door` allowing `limit` connections.
  public init(door: String, limit: Int) {
    self.door = door
    self.limit = limit
  }

  /// Takes a place for a new connection; false (counted as refused) when all are taken.
  public func admit() -> Bool {
    if open.add(1, ordering: .relaxed).newValue > limit {
      open.subtract(1, ordering: .relaxed)
      refusedCount.add(1, ordering: .relaxed)
      return false
    }
    return true
  }

  /// Gives back a place taken by ``admit()``.
  public func release() { open.subtract(1, ordering: .relaxed) }

  /// Connections open now.
  public var openNow: Int { open.load(ordering: .relaxed) }
  /// Connections refused since start.
  public var refused: UInt64 { refusedCount.load(ordering: .relaxed) }
}
