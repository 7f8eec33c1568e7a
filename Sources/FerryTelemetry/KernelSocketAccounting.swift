/// Turns what the kernel reports about sockets — live rows of ferry_conns once
/// a second, and one close record per socket — into observations, each counted
/// once: an RTT observation per owned socket per live pass and one at its
/// close, retransmits as they grow (the rest at close), the connect time once.
/// No I/O and no clock of its own: the agent's drain thread feeds it, tests
/// feed it by hand.
public struct KernelSocketAccounting: Sendable {
    public enum Observation: Hashable, Sendable {
        case rtt(SocketOwner, seconds: Double)
        case retransmits(SocketOwner, count: UInt64)
        case connect(SocketOwner, seconds: Double)
        case closed(SocketOwner, end: KernelCloseEvent.End)
        /// A close record nobody claimed, even after waiting.
        case unattributed
    }

    /// What was already counted of a live socket.
    private struct Counted {
        var retransmits: UInt32 = 0
        var connect = false
        /// Live passes that did not see it since it was last seen.
        var missed = 0
    }

    private var counted: [UInt64: Counted] = [:]
    private var waiting: [(event: KernelCloseEvent, since: ContinuousClock.Instant)] = []
    /// How long a close record waits for its socket's owner: a client may
    /// connect, send and reset before the agent has accepted it.
    public var patience: Duration

    public init(patience: Duration = .seconds(5)) {
        self.patience = patience
    }

    /// Close records still waiting for an owner.
    public var waitingCount: Int { waiting.count }

    /// One live socket that has an owner.
    public mutating func live(_ socket: KernelSocketState, owner: SocketOwner) -> [Observation] {
        var entry = counted[socket.cookie] ?? Counted()
        var observations: [Observation] = []
        if socket.srttSeconds > 0 { observations.append(.rtt(owner, seconds: socket.srttSeconds)) }
        if socket.retransmits > entry.retransmits {
            observations.append(.retransmits(owner, count: UInt64(socket.retransmits - entry.retransmits)))
            entry.retransmits = socket.retransmits
        }
        if let connect = socket.connectSeconds, !entry.connect {
            observations.append(.connect(owner, seconds: connect))
            entry.connect = true
        }
        entry.missed = 0
        counted[socket.cookie] = entry
        return observations
    }

    /// After a whole live pass: forgets sockets that two passes in a row did
    /// not see (their close record was dropped). Not after one: a socket
    /// leaves the table just before its record is written, which the next
    /// drain reads.
    public mutating func passEnded(seen cookies: Set<UInt64>) {
        for cookie in Array(counted.keys) where !cookies.contains(cookie) {
            counted[cookie]!.missed += 1
            if counted[cookie]!.missed >= 2 { counted[cookie] = nil }
        }
    }

    /// A close record, with its owner when one is known; without, it waits
    /// (`retry`).
    public mutating func closed(_ event: KernelCloseEvent, owner: SocketOwner?, now: ContinuousClock.Instant) -> [Observation] {
        guard let owner else {
            waiting.append((event, now))
            return []
        }
        return final(event, owner: owner)
    }

    /// Waiting records whose owner is now known are counted; those that waited
    /// longer than `patience` go to `fallback`, or count as unattributed.
    public mutating func retry(now: ContinuousClock.Instant, owner: (UInt64) -> SocketOwner?,
                               fallback: (KernelCloseEvent) -> SocketOwner?) -> [Observation] {
        guard !waiting.isEmpty else { return [] }
        var observations: [Observation] = []
        var still: [(event: KernelCloseEvent, since: ContinuousClock.Instant)] = []
        for entry in waiting {
            if let found = owner(entry.event.cookie) {
                observations += final(entry.event, owner: found)
            } else if now - entry.since < patience {
                still.append(entry)
            } else if let found = fallback(entry.event) {
                observations += final(entry.event, owner: found)
            } else {
                counted[entry.event.cookie] = nil
                observations.append(.unattributed)
            }
        }
        waiting = still
        return observations
    }

    private mutating func final(_ event: KernelCloseEvent, owner: SocketOwner) -> [Observation] {
        let before = counted.removeValue(forKey: event.cookie) ?? Counted()
        let socket = event.socket
        var observations: [Observation] = []
        if socket.srttSeconds > 0 { observations.append(.rtt(owner, seconds: socket.srttSeconds)) }
        if socket.retransmits > before.retransmits {
            observations.append(.retransmits(owner, count: UInt64(socket.retransmits - before.retransmits)))
        }
        if let connect = socket.connectSeconds, !before.connect { observations.append(.connect(owner, seconds: connect)) }
        observations.append(.closed(owner, end: event.end))
        return observations
    }
}
