import Prometheus
import Synchronization

/// Istio's standard TCP metrics: connections opened and closed, bytes each way.
/// Counters are cached per label set so the data path does one dictionary lookup
/// per event rather than building label arrays.
public final class TCPMetrics: Sendable {
    struct Series: Sendable {
        let opened: Counter
        let closed: Counter
        let sent: Counter
        let received: Counter
    }

    private let registry: PrometheusCollectorRegistry
    private let series = Mutex<[TrafficLabels: Series]>([:])

    public init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
    }

    private func counters(_ labels: TrafficLabels) -> Series {
        series.withLock { cache in
            if let existing = cache[labels] { return existing }
            let pairs = labels.pairs
            let made = Series(
                opened: registry.counter("istio_tcp_connections_opened_total", help: "TCP connections opened", labels: pairs),
                closed: registry.counter("istio_tcp_connections_closed_total", help: "TCP connections closed", labels: pairs),
                sent: registry.counter("istio_tcp_sent_bytes_total",
                                       help: "Bytes sent by the source workload during TCP connections", labels: pairs),
                received: registry.counter("istio_tcp_received_bytes_total",
                                           help: "Bytes received by the source workload during TCP connections", labels: pairs)
            )
            cache[labels] = made
            return made
        }
    }

    public func opened(_ labels: TrafficLabels) { counters(labels).opened.increment() }
    public func closed(_ labels: TrafficLabels) { counters(labels).closed.increment() }

    /// Adds byte deltas: sent is source → destination, received the reverse.
    public func add(sent: UInt64, received: UInt64, _ labels: TrafficLabels) {
        guard sent > 0 || received > 0 else { return }
        let series = counters(labels)
        if sent > 0 { series.sent.increment(by: Int64(sent)) }
        if received > 0 { series.received.increment(by: Int64(received)) }
    }
}
