import Dispatch
import NIOCore
import Synchronization

/// When the current pass of an event loop over its ready connections began: the first request
/// any connection of the loop reads in a pass starts the clock, and a task the loop runs once
/// the pass's reads are done stops it. A request's wait at the door is then the time since the
/// pass began, behind every connection the loop served before it, not only its own burst (under
/// overload a pass reads a full buffer from each connection in turn).
///
/// One clock per event loop, touched only on that loop's thread.
package final class ReadCycleClock: @unchecked Sendable {
  private var started: UInt64?
  private let eventLoop: any EventLoop

  private init(eventLoop: any EventLoop) { self.eventLoop = eventLoop }

  /// When the loop's current pass began (now, for the pass's first request). On the loop only.
  package func passStarted() -> UInt64 {
    if let started { return started }
    let now = DispatchTime.now().uptimeNanoseconds
    started = now
    // Tasks run after the loop has handled every connection that was ready in this pass.
    eventLoop.execute { self.started = nil }
    return now
  }

  private static let clocks = Mutex<[ObjectIdentifier: ReadCycleClock]>([:])

  /// The clock of `eventLoop` (made on first use; a connection asks once, when it is set up).
  package static func of(_ eventLoop: any EventLoop) -> ReadCycleClock {
    clocks.withLock { clocks in
      let key = ObjectIdentifier(eventLoop)
      if let clock = clocks[key] { return clock }
      let clock = ReadCycleClock(eventLoop: eventLoop)
      clocks[key] = clock
      return clock
    }
  }
}
