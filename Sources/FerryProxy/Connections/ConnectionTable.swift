import FerryTelemetry
import Synchronization

/// Every live connection ferryd carries, with Istio TCP metrics reported as they
/// open, move bytes and close.
public final class ConnectionTable: Sendable {
    private let live = Mutex<[UInt64: ConnectionRecord]>([:])
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
