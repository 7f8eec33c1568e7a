import CLibBPF
import FerryBPF
import FerryMesh
import Glibc

/// One entry of the kernel's connection map (ferry_conns), in Swift terms.
public struct KernelConnection: Sendable, Codable, Hashable {
    public enum Kind: String, Sendable, Codable {
        case captured, upstream, inbound, unknown

        /// From `enum ferry_conn_kind`.
        public init(_ raw: UInt8) {
            switch UInt32(raw) {
            case FERRY_CONN_CAPTURED.rawValue: self = .captured
            case FERRY_CONN_UPSTREAM.rawValue: self = .upstream
            case FERRY_CONN_INBOUND.rawValue: self = .inbound
            default: self = .unknown
            }
        }
    }

    public var cookie: UInt64
    public var kind: Kind
    public var local: IPEndpoint
    public var remote: IPEndpoint
    public var netnsCookie: UInt64
    /// For captured sockets: where the workload asked to go, and who it is.
    public var originalDestination: IPEndpoint?
    public var workloadIndex: UInt32?
    public var bytesAcked: UInt64
    public var bytesReceived: UInt64
    public var srttMicroseconds: UInt32
    public var retransmits: UInt32
    public var rttSamples: UInt32
    /// SYN → established, for a socket that connected.
    public var connectSeconds: Double?
    public var state: String
    public var ageSeconds: Double

    public init(cookie: UInt64, stats: ferry_conn_stats, now: UInt64 = monotonicNanoseconds()) {
        self.cookie = cookie
        kind = Kind(stats.kind)
        local = IPEndpoint(ip: IPAddress(words: stats.tuple.src_addr), port: Int(stats.tuple.src_port))
        remote = IPEndpoint(ip: IPAddress(words: stats.tuple.dst_addr), port: Int(stats.tuple.dst_port))
        netnsCookie = stats.tuple.netns_cookie
        if kind == .captured {
            originalDestination = IPEndpoint(ip: IPAddress(words: stats.origin.dst_addr), port: Int(stats.origin.dst_port))
            workloadIndex = stats.origin.workload
        }
        bytesAcked = stats.bytes_acked
        bytesReceived = stats.bytes_received
        srttMicroseconds = stats.srtt_us
        retransmits = stats.total_retrans
        rttSamples = stats.rtt_samples
        connectSeconds = KernelSocketState(cookie: cookie, stats: stats).connectSeconds
        state = Self.stateName(stats.state)
        ageSeconds = now > stats.start_ns ? Double(now - stats.start_ns) / 1e9 : 0
    }

    public static func stateName(_ state: UInt8) -> String {
        let names = ["?", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2", "TIME_WAIT",
                     "CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING", "NEW_SYN_RECV"]
        return Int(state) < names.count ? names[Int(state)] : "\(state)"
    }

    /// Reads the whole map.
    public static func all(from datapath: FerryDatapath) -> [KernelConnection] {
        let now = monotonicNanoseconds()
        return datapath.connections.entries().map { KernelConnection(cookie: $0.key, stats: $0.value, now: now) }
    }
}

/// CLOCK_MONOTONIC, the clock of bpf_ktime_get_ns().
public func monotonicNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// The per-CPU counters of ferry_counters, by name (enum ferry_counter order).
public enum KernelCounters {
    public static let names = [
        "redirected", "fail_open", "fail_closed", "origin_found", "origin_missing",
        "conn_tracked", "conn_closed", "map_full", "inbound_steered", "inbound_dropped", "events_dropped",
    ]

    public static func read(_ counters: BPFCounterArray) -> [String: UInt64] {
        var result: [String: UInt64] = [:]
        for (index, name) in names.enumerated() { result[name] = counters.sum(UInt32(index)) }
        return result
    }
}
