import Prometheus
import Synchronization

/// Ferry's kernel-derived TCP series, in base units:
///
/// - per workload pair and leg (`leg="client"`: the workload's socket to its
///   agent; `leg="server"`: the agent's socket to the destination):
///   `ferry_tcp_rtt_seconds`, `ferry_tcp_retransmits_total`,
///   `ferry_tcp_connect_seconds`, `ferry_tcp_socket_closes_total{end}`;
/// - per peer node, for the agent-to-agent (HBONE) sockets that carry many
///   pairs at once: `ferry_node_tcp_rtt_seconds`,
///   `ferry_node_tcp_retransmits_total`, `ferry_node_tcp_socket_closes_total{end}`;
/// - the close-event stream itself: `ferry_kernel_events_total`,
///   `..._invalid_total`, `..._unattributed_total` (and `..._dropped_total`,
///   counted in the kernel, from `AgentMetrics`).
///
/// An RTT observation is a socket's smoothed RTT: once a second while it is
/// open, and once when it closes, so every socket counts at least once.
public final class KernelSocketMetrics: Sendable {
    /// 50 µs (loopback) to 5 s (a path in trouble).
    public static let secondsBuckets: [Double] = [
        0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
    ]

    private struct Series {
        let rtt: ValueHistogram
        let retransmits: Counter
        let connect: ValueHistogram?
        let closes: [KernelCloseEvent.End: Counter]
    }

    private let registry: PrometheusCollectorRegistry
    private let series = Mutex<[SocketOwner: Series]>([:])
    private let events: Counter
    private let invalid: Counter
    private let unattributed: Counter

    public init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
        events = registry.counter("ferry_kernel_events_total", help: "Close records read from the kernel's ring buffer", labels: [])
        invalid = registry.counter("ferry_kernel_events_invalid_total",
                                   help: "Close records skipped because their size was not this build's", labels: [])
        unattributed = registry.counter("ferry_kernel_events_unattributed_total",
                                        help: "Close records of sockets no workload pair or node pair owned", labels: [])
    }

    public func record(_ observations: [KernelSocketAccounting.Observation]) {
        for observation in observations {
            switch observation {
            case .rtt(let owner, let seconds): series(owner).rtt.record(seconds)
            case .retransmits(let owner, let count): series(owner).retransmits.increment(by: Int64(count))
            case .connect(let owner, let seconds): series(owner).connect?.record(seconds)
            case .closed(let owner, let end): series(owner).closes[end]?.increment()
            case .unattributed: unattributed.increment()
            }
        }
    }

    public func eventRead() { events.increment() }
    public func eventInvalid() { invalid.increment() }

    /// Every series of an owner at once, so a pair that never retransmitted
    /// shows 0 rather than nothing (rate() then works from the start).
    private func series(_ owner: SocketOwner) -> Series {
        series.withLock { cache in
            if let existing = cache[owner] { return existing }
            let made: Series
            switch owner {
            case .pair(let pair, let leg):
                let labels = pair.labels + [("leg", leg.rawValue)]
                made = Series(
                    rtt: histogram("ferry_tcp_rtt", labels, help: "Smoothed RTT of a workload pair's own sockets (kernel srtt)"),
                    retransmits: registry.counter("ferry_tcp_retransmits_total",
                                                  help: "TCP segments retransmitted on a workload pair's own sockets", labels: labels),
                    connect: histogram("ferry_tcp_connect", labels,
                                       help: "SYN to established of a workload pair's sockets that connected"),
                    closes: closes("ferry_tcp_socket_closes_total", labels, help: "A workload pair's sockets closed, by how")
                )
            case .node(let peer):
                let labels = [("peer_node", peer)]
                made = Series(
                    rtt: histogram("ferry_node_tcp_rtt", labels, help: "Smoothed RTT of the agent-to-agent (HBONE) sockets to a peer node"),
                    retransmits: registry.counter("ferry_node_tcp_retransmits_total",
                                                  help: "TCP segments retransmitted on the agent-to-agent (HBONE) sockets to a peer node",
                                                  labels: labels),
                    connect: nil,
                    closes: closes("ferry_node_tcp_socket_closes_total", labels, help: "Agent-to-agent (HBONE) sockets closed, by how")
                )
            }
            cache[owner] = made
            return made
        }
    }

    private func histogram(_ base: String, _ labels: [(String, String)], help: String) -> ValueHistogram {
        registry.makeValueHistogram(descriptor: MetricNameDescriptor(metricName: base, unitName: "seconds", helpText: help),
                                    labels: labels, buckets: Self.secondsBuckets)
    }

    private func closes(_ name: String, _ labels: [(String, String)], help: String) -> [KernelCloseEvent.End: Counter] {
        // The kernel writes only these three; a record it could not classify is not one of its own.
        Dictionary(uniqueKeysWithValues: [KernelCloseEvent.End.fin, .rst, .timeout].map { end in
            (end, registry.counter(name, help: help, labels: labels + [("end", end.rawValue)]))
        })
    }
}
