import ArbiterCore
import Synchronization

/// The contact centre's call distribution: agents whose consoles are connected take calls one at
/// a time; a call goes to the agent free the longest, or waits in a first-come queue until one
/// is. Each agent's consoles are told of the call they get (screen pop) through their event
/// streams.
public final class CallDistributor: Sendable {
  /// What an agent's console is sent.
  public enum AgentEvent: Sendable, Hashable {
    /// A call for this agent.
    case call(QueuedCall)
  }

  /// Where a new call went.
  public struct Ticket: Sendable, Hashable {
    /// The call's id.
    public var callId: String
    /// The agent who took it; nil while it waits.
    public var agentId: String?
    /// 0 when taken at once; else its place in the queue (1 is next).
    public var queuePosition: Int
    /// The expected wait until an agent takes it.
    public var expectedWaitSeconds: Int
  }

  /// An agent's availability as they set it.
  public enum Availability: Sendable, Hashable {
    /// Ready for a call.
    case free
    /// Not taking calls.
    case busy
  }

  /// An agent as the distributor knows them.
  public struct AgentStatus: Sendable, Hashable {
    /// Whether they take calls.
    public var availability: Availability
    /// The call they are on.
    public var callId: String?
    /// Whether a console of theirs is connected.
    public var connected: Bool
  }

  /// The centre at a glance.
  public struct Status: Sendable, Hashable {
    /// Agents with a console connected.
    public var agentsConnected: Int
    /// Of those, the ones free for a call.
    public var agentsFree: Int
    /// Calls waiting for an agent.
    public var callsWaiting: Int
    /// The expected wait of a call queued now.
    public var expectedWaitSeconds: Int
  }

  struct Agent {
    var streams: [Int: AsyncStream<AgentEvent>.Continuation] = [:]
    var availability = Availability.free
    var call: QueuedCall?
    /// When the agent last became free, for "free the longest first".
    var freeSince: UInt64 = 0
    var isFree: Bool { !streams.isEmpty && availability == .free && call == nil }
  }

  struct State {
    var agents: [String: Agent] = [:]
    var queue: [QueuedCall] = []
    var nextStream = 0
    var nextCall: UInt64 = 0
    var tick: UInt64 = 0
    /// Decisions whose call-backs were queued lately (→ their call), to take each once.
    var callbacks: [String: String] = [:]
    var callbackOrder: [String] = []
  }

  let state = Mutex(State())
  /// How long a call takes on average, for the expected wait.
  public let averageHandleSeconds: Int
  /// How many calls may wait at once; more are refused.
  public let maxWaiting: Int

  /// A contact centre with no agents yet.
  public init(averageHandleSeconds: Int = 240, maxWaiting: Int = 10_000) {
    self.averageHandleSeconds = averageHandleSeconds
    self.maxWaiting = maxWaiting
  }

  /// A new call's id, "c-" and a number unique in this server's run.
  public func makeCallId() -> String {
    let n = state.withLock { state in
      state.nextCall += 1
      return state.nextCall
    }
    return "c-\(n)"
  }

  /// Queues a call: it goes to the agent free the longest, whose consoles are told at once, or
  /// waits. A call-back asked for again (the same decision) is not queued twice: its ticket as it
  /// stands now is the answer. Refused (RESOURCE_EXHAUSTED) when the queue is full.
  public func enqueue(_ call: QueuedCall) throws(ArbiterError) -> Ticket {
    typealias Delivery = [(AsyncStream<AgentEvent>.Continuation, AgentEvent)]
    let (answer, delivery) = try state.withLock { state throws(ArbiterError) -> (Ticket, Delivery) in
      if !call.decisionId.isEmpty, let callId = state.callbacks[call.decisionId] {
        return (self.ticket(of: callId, in: state), [])
      }
      let result: (Ticket, Delivery)
      if let agentId = Self.freeAgent(in: state) {
        let delivery = Self.assign(call, to: agentId, in: &state)
        result = (Ticket(callId: call.id, agentId: agentId, queuePosition: 0, expectedWaitSeconds: 0), delivery)
      } else {
        guard state.queue.count < maxWaiting else {
          throw ArbiterError(.resourceExhausted, "\(maxWaiting) calls are waiting already; try again later")
        }
        state.queue.append(call)
        let position = state.queue.count
        let ticket = Ticket(
          callId: call.id, agentId: nil, queuePosition: position,
          expectedWaitSeconds: wait(position: position, in: state))
        result = (ticket, [])
      }
      if !call.decisionId.isEmpty {
        state.callbacks[call.decisionId] = call.id
        state.callbackOrder.append(call.decisionId)
        if state.callbackOrder.count > 4_096 {
          for old in state.callbackOrder.prefix(1_024) { state.callbacks[old] = nil }
          state.callbackOrder.removeFirst(1_024)
        }
      }
      return result
    }
    for (stream, event) in delivery { stream.yield(event) }
    return answer
  }

  /// Connects a console of `agentId`: the returned stream gets the agent's calls (first the one
  /// they are on, if any) until the console disconnects. A free agent may take a waiting call at
  /// once.
  public func connect(agentId: String) -> AsyncStream<AgentEvent> {
    let (stream, continuation) = AsyncStream<AgentEvent>.makeStream(bufferingPolicy: .bufferingNewest(16))
    let delivery = state.withLock { state in
      state.nextStream += 1
      let token = state.nextStream
      var agent = state.agents[agentId] ?? Agent()
      if agent.streams.isEmpty && agent.call == nil { agent.freeSince = Self.nextTick(&state) }
      agent.streams[token] = continuation
      state.agents[agentId] = agent
      if let call = agent.call { continuation.yield(.call(call)) }
      continuation.onTermination = { [weak self] _ in self?.disconnect(agentId: agentId, token: token) }
      return Self.popWaiting(in: &state)
    }
    for (stream, event) in delivery { stream.yield(event) }
    return stream
  }

  /// A console gone: when it was the agent's last, the call they were given (which the console
  /// may never have shown) goes back to the head of the queue, for the next free agent.
  private func disconnect(agentId: String, token: Int) {
    let delivery = state.withLock { state -> [(AsyncStream<AgentEvent>.Continuation, AgentEvent)] in
      guard var agent = state.agents[agentId] else { return [] }
      agent.streams[token] = nil
      if agent.streams.isEmpty, var call = agent.call {
        call.agentId = ""
        state.queue.insert(call, at: 0)
        agent.call = nil
      }
      state.agents[agentId] = agent
      return Self.popWaiting(in: &state)
    }
    for (stream, event) in delivery { stream.yield(event) }
  }

  /// Sets an agent's availability: free ends their current call and may hand them the next
  /// waiting one at once; busy takes them off the queue.
  public func setAvailability(agentId: String, _ availability: Availability) -> AgentStatus {
    let (status, delivery) = state.withLock { state in
      var agent = state.agents[agentId] ?? Agent()
      agent.availability = availability
      if availability == .free {
        agent.call = nil
        agent.freeSince = Self.nextTick(&state)
      }
      state.agents[agentId] = agent
      let delivery = Self.popWaiting(in: &state)
      let now = state.agents[agentId]!
      return (
        AgentStatus(availability: now.availability, callId: now.call?.id, connected: !now.streams.isEmpty), delivery
      )
    }
    for (stream, event) in delivery { stream.yield(event) }
    return status
  }

  /// An agent's status (free and unconnected when the distributor has not seen them).
  public func agentStatus(agentId: String) -> AgentStatus {
    state.withLock { state in
      let agent = state.agents[agentId] ?? Agent()
      return AgentStatus(availability: agent.availability, callId: agent.call?.id, connected: !agent.streams.isEmpty)
    }
  }

  /// The centre at a glance.
  public func status() -> Status {
    state.withLock { state in
      let connected = state.agents.values.filter { !$0.streams.isEmpty }
      return Status(
        agentsConnected: connected.count, agentsFree: connected.filter(\.isFree).count,
        callsWaiting: state.queue.count,
        expectedWaitSeconds: connected.contains(where: \.isFree) ? 0 : wait(position: state.queue.count + 1, in: state))
    }
  }

  /// The wait of the call at `position` in the queue: the calls before it, shared among the
  /// connected agents, one average handling time each.
  private func wait(position: Int, in state: State) -> Int {
    let agents = max(1, state.agents.values.filter { !$0.streams.isEmpty && $0.availability == .free }.count)
    return (position + agents - 1) / agents * averageHandleSeconds
  }

  /// A queued call's ticket as it stands now: waiting, with an agent, or over (no agent, 0).
  private func ticket(of callId: String, in state: State) -> Ticket {
    if let k = state.queue.firstIndex(where: { $0.id == callId }) {
      return Ticket(
        callId: callId, agentId: nil, queuePosition: k + 1, expectedWaitSeconds: wait(position: k + 1, in: state))
    }
    let agentId = state.agents.first { $0.value.call?.id == callId }?.key
    return Ticket(callId: callId, agentId: agentId, queuePosition: 0, expectedWaitSeconds: 0)
  }

  private static func nextTick(_ state: inout State) -> UInt64 {
    state.tick += 1
    return state.tick
  }

  private static func freeAgent(in state: State) -> String? {
    state.agents.filter { $0.value.isFree }.min { $0.value.freeSince < $1.value.freeSince }?.key
  }

  private static func assign(
    _ call: QueuedCall, to agentId: String, in state: inout State
  ) -> [(AsyncStream<AgentEvent>.Continuation, AgentEvent)] {
    var taken = call
    taken.agentId = agentId
    state.agents[agentId]!.call = taken
    return state.agents[agentId]!.streams.values.map { ($0, .call(taken)) }
  }

  /// Hands waiting calls to free agents, first come first served.
  private static func popWaiting(in state: inout State) -> [(AsyncStream<AgentEvent>.Continuation, AgentEvent)] {
    var delivery: [(AsyncStream<AgentEvent>.Continuation, AgentEvent)] = []
    while !state.queue.isEmpty, let agentId = freeAgent(in: state) {
      delivery += assign(state.queue.removeFirst(), to: agentId, in: &state)
    }
    return delivery
  }
}
