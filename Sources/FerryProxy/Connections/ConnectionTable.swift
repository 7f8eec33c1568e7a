import FerryTelemetry
import Synchronization

/// Every live connection ferryd carries, with Istio TCP metrics reported as they
/// open, move bytes and close, and who owns the sockets the kernel reports on.
public final class ConnectionTable: Sendable {
    private let live = Mutex<[UInt64: ConnectionRecord]>([:])
    /// Socket cookie → workload pair leg or peer node, for the kernel's numbers.
    public let sockets = SocketOwners()
    private let nextID = Atomic<UInt64>(1)
    private let metrics: TCPMetrics
    /// Totals since start, for tests and `ferryctl status`.
    public let openedTotal = Atomic<UInt64>(0)
    public let closedTotal = Atomic<UInt64>(0)

    public init(metrics: TCPMetrics) {
        self.metrics = metrics
    }

    func makeID() -> UInt64 { nextID.wrappingAdd(1, ordering: .relaxed).oldValue }

    func opened(_ record: ConnectionRecord) {
        live.withLock { $0[record.id] = record }
        openedTotal.wrappingAdd(1, ordering: .relaxed)
        metrics.opened(record.labels)
    }

    func closed(_ record: ConnectionRecord) {
        guard live.withLock({ $0.removeValue(forKey: record.id) }) != nil else { return }
        report(record)
        closedTotal.wrappingAdd(1, ordering: .relaxed)
        metrics.closed(record.labels)
        releaseSockets(of: record)
    }

    /// Counts a socket's kernel numbers (RTT, retransmits, connect time) for
    /// one leg of the record's workload pair.
    func claim(_ cookie: UInt64, leg: SocketLeg, for record: ConnectionRecord) {
        guard cookie != 0 else { return }
        sockets.register(cookie, .pair(WorkloadPair(record.labels), leg))
        record.claimedSockets.withLock { $0.append(cookie) }
        // A cookie learnt after a very short connection ended.
        if record.socketsReleased.load(ordering: .sequentiallyConsistent) { sockets.release([cookie]) }
    }

    /// A socket of a connection that was refused before it had a record: its
    /// close record still counts for the pair.
    func claim(_ cookie: UInt64, leg: SocketLeg, labels: TrafficLabels) {
        sockets.register(cookie, .pair(WorkloadPair(labels), leg))
        sockets.release([cookie])
    }

    /// The record will not be reported as closed (it failed before it opened):
    /// its sockets wait only for their close records.
    func releaseSockets(of record: ConnectionRecord) {
        record.socketsReleased.store(true, ordering: .sequentiallyConsistent)
        sockets.release(record.claimedSockets.withLock { $0 })
    }

    /// A connection that never got going (refused, upstream unreachable): counted
    /// as opened and closed, with its response flags, so failures are visible.
    func failed(_ labels: TrafficLabels) {
        metrics.opened(labels)
        metrics.closed(labels)
    }

    /// Adds byte deltas of long-lived connections to the counters; called
    /// periodically so rates are right while connections are still open.
    public func reportBytes() {
        for record in all() { report(record) }
    }

    private func report(_ record: ConnectionRecord) {
        let sent = record.sent.inbound.load(ordering: .relaxed)
        let received = record.received.inbound.load(ordering: .relaxed)
        let sentDelta = sent &- record.reportedSent.exchange(sent, ordering: .relaxed)
        let receivedDelta = received &- record.reportedReceived.exchange(received, ordering: .relaxed)
        metrics.add(sent: sentDelta, received: receivedDelta, record.labels)
    }

    public func all() -> [ConnectionRecord] {
        live.withLock { Array($0.values) }.sorted { $0.id < $1.id }
    }

    public var count: Int { live.withLock { $0.count } }
}
