import Synchronization

/// A port learnt once a listener is bound.
final class BoundPort: Sendable {
  let value = Mutex<Int?>(nil)
}
