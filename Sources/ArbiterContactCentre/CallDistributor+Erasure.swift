import ArbiterCore

/// Erasure: the contact centre forgets an erased customer's calls.
extension CallDistributor: ErasureParticipant {
  /// "queued call", for the erasure's report.
  public var erasureNoun: String { "queued call" }

  /// Withdraws the customer's waiting calls from the queue, and makes a call an agent is on
  /// anonymous (the conversation goes on; its record here keeps no id, number or page).
  /// Returns how many calls it withdrew or made anonymous.
  public func forget(customerId: UInt64) -> Int {
    guard customerId != 0 else { return 0 }
    return state.withLock { state in
      let waiting = state.queue.count
      state.queue.removeAll { $0.customerId == customerId }
      var forgotten = waiting - state.queue.count
      for (agentId, agent) in state.agents where agent.call?.customerId == customerId {
        state.agents[agentId]?.call = agent.call.map(Self.anonymous)
        forgotten += 1
      }
      return forgotten
    }
  }

  /// The call without anything that names the caller.
  static func anonymous(_ call: QueuedCall) -> QueuedCall {
    QueuedCall(
      id: call.id, customerId: 0, origin: call.origin, callReason: call.callReason,
      queuedAtMillis: call.queuedAtMillis, agentId: call.agentId)
  }
}
