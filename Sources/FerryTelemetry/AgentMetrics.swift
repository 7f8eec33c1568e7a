import Prometheus
import Synchronization

/// Ferry's own series (prefix `ferry_`), fed by the sampler off the data path.
/// Label values are map, program and counter names and certificate
/// identities — all bounded by the configuration, never per connection.
/// (The per-pair and per-node TCP series are `KernelSocketMetrics`'.)
public final class AgentMetrics: Sendable {
    private let registry: PrometheusCollectorRegistry
    private let gauges = Mutex<[String: Gauge]>([:])
    private let counters = Mutex<[String: (counter: Counter, last: UInt64)]>([:])

    public init(registry: PrometheusCollectorRegistry, version: String) {
        self.registry = registry
        registry.gauge("ferry_build_info", help: "Ferry build information",
                       labels: [("version", version), ("component", "ferryd")]).set(to: 1.0)
    }

    public func mapEntries(_ map: String, entries: Int, capacity: Int) {
        gauge("ferry_bpf_map_entries", [("map", map)], help: "Entries in a BPF map").set(to: Double(entries))
        gauge("ferry_bpf_map_capacity", [("map", map)], help: "Maximum entries of a BPF map").set(to: Double(capacity))
    }

    /// The kernel's run count of a program (a restart of ferryd loads new
    /// programs, whose count starts again: the counter then adds the new value).
    public func programRuns(_ program: String, total: UInt64) {
        advance("ferry_bpf_program_runs_total", [("program", program)], to: total,
                help: "Runs of a BPF program, as the kernel counts them")
    }

    /// One of the datapath's per-CPU counters (redirects, fail-open, …).
    public func datapathCounter(_ name: String, total: UInt64) {
        switch name {
        case "redirected":
            advance("ferry_bpf_redirects_total", [], to: total, help: "Datapath events counted in BPF (redirected)")
        case "events_dropped":
            advance("ferry_kernel_events_dropped_total", [], to: total,
                    help: "Close records the kernel dropped because the ring buffer was full")
        default:
            advance("ferry_bpf_\(name)_total", [], to: total, help: "Datapath events counted in BPF (\(name))")
        }
    }

    public func certificateExpiry(identity: String, notAfter: Double) {
        gauge("ferry_certificate_expiry_timestamp_seconds", [("identity", identity)],
              help: "When a workload certificate expires (Unix time)").set(to: notAfter)
    }

    public func configReloads(success: Int, failure: Int) {
        advance("ferry_config_reloads_total", [("result", "success")], to: UInt64(success), help: "Configuration reloads")
        advance("ferry_config_reloads_total", [("result", "failure")], to: UInt64(failure), help: "Configuration reloads")
    }

    /// The standard process series (Prometheus client conventions), which the
    /// agent CPU and memory panels use.
    public func process(cpuSeconds: Double, residentBytes: Double, openDescriptors: Int, startTime: Double) {
        advance("process_cpu_seconds_total", [], to: UInt64(cpuSeconds * 1000), help: "CPU time of ferryd in seconds",
                scale: 1000)
        gauge("process_resident_memory_bytes", [], help: "Resident memory of ferryd").set(to: residentBytes)
        gauge("process_open_fds", [], help: "Open file descriptors of ferryd").set(to: Double(openDescriptors))
        gauge("process_start_time_seconds", [], help: "Start time of ferryd (Unix time)").set(to: startTime)
    }

    // MARK: Series by name and labels

    private static func key(_ name: String, _ labels: [(String, String)]) -> String {
        name + labels.map { "|\($0.0)=\($0.1)" }.joined()
    }

    private func gauge(_ name: String, _ labels: [(String, String)], help: String) -> Gauge {
        gauges.withLock { gauges in
            let key = Self.key(name, labels)
            if let existing = gauges[key] { return existing }
            let made = registry.gauge(name, help: help, labels: labels)
            gauges[key] = made
            return made
        }
    }

    /// Moves a counter to a monotonic source's new total (in 1/scale units).
    private func advance(_ name: String, _ labels: [(String, String)], to total: UInt64, help: String, scale: Double = 1) {
        counters.withLock { counters in
            let key = Self.key(name, labels)
            let entry = counters[key] ?? (registry.counter(name, help: help, labels: labels), 0)
            let delta = total >= entry.last ? total - entry.last : total
            if delta > 0 {
                if scale == 1 { entry.counter.increment(by: Int64(delta)) } else { entry.counter.increment(by: Double(delta) / scale) }
            }
            counters[key] = (entry.counter, total)
        }
    }
}
