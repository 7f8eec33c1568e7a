import CLibBPF
import FerryBPF
import FerryMesh

/// What the kernel knows about one socket at a moment: enough to count its
/// RTT, retransmits and connect time. Live (from ferry_conns) or final (from
/// a close record).
public struct KernelSocketState: Sendable, Hashable {
    public var cookie: UInt64
    /// Smoothed RTT; 0 before the first measurement.
    public var srttSeconds: Double
    public var retransmits: UInt32
    /// SYN → established, for a socket that connected (not for accepted ones).
    public var connectSeconds: Double?

    public init(cookie: UInt64, srttSeconds: Double, retransmits: UInt32, connectSeconds: Double?) {
        self.cookie = cookie
        self.srttSeconds = srttSeconds
        self.retransmits = retransmits
        self.connectSeconds = connectSeconds
    }

    public init(cookie: UInt64, stats: ferry_conn_stats) {
        let established = stats.flags & UInt16(FERRY_CONN_ESTABLISHED) != 0 && stats.established_ns >= stats.start_ns
        self.init(cookie: cookie, srttSeconds: Double(stats.srtt_us) / 1e6, retransmits: stats.total_retrans,
                  connectSeconds: established ? Double(stats.established_ns - stats.start_ns) / 1e9 : nil)
    }
}

/// One record of the kernel's close-event ring buffer (`ferry_events`): a
/// tracked socket's final values, written by sockops when it reached TCP_CLOSE.
public struct KernelCloseEvent: Sendable, Hashable {
    /// How the connection ended (`enum ferry_conn_end`).
    public enum End: String, Sendable, Hashable, CaseIterable {
        case fin, rst, timeout, unknown
    }

    public var socket: KernelSocketState
    public var kind: KernelConnection.Kind
    public var local: IPEndpoint
    public var remote: IPEndpoint
    /// For a captured socket: the workload that made it (ferry_workload.index).
    public var workloadIndex: UInt32?
    public var minRTTSeconds: Double?
    public var bytesAcked: UInt64
    public var bytesReceived: UInt64
    public var durationSeconds: Double
    public var end: End
    /// The TCP state it left for CLOSE.
    public var lastState: String

    public var cookie: UInt64 { socket.cookie }

    /// The size of a record this build reads.
    public static let recordSize = MemoryLayout<ferry_close_event>.size

    /// Decodes one record; nil when its size is not this build's (a program of
    /// another build, or a corrupt record): the caller counts and skips it.
    public init?(bytes: UnsafeRawBufferPointer) {
        guard bytes.count == Self.recordSize, let base = bytes.baseAddress else { return nil }
        self.init(base.loadUnaligned(as: ferry_close_event.self))
    }

    public init(_ event: ferry_close_event) {
        let stats = event.stats
        socket = KernelSocketState(cookie: event.cookie, stats: stats)
        kind = KernelConnection.Kind(stats.kind)
        local = IPEndpoint(ip: IPAddress(words: stats.tuple.src_addr), port: Int(stats.tuple.src_port))
        remote = IPEndpoint(ip: IPAddress(words: stats.tuple.dst_addr), port: Int(stats.tuple.dst_port))
        workloadIndex = kind == .captured ? stats.origin.workload : nil
        minRTTSeconds = event.min_rtt_us > 0 && event.min_rtt_us != UInt32.max ? Double(event.min_rtt_us) / 1e6 : nil
        bytesAcked = stats.bytes_acked
        bytesReceived = stats.bytes_received
        durationSeconds = event.end_ns > stats.start_ns ? Double(event.end_ns - stats.start_ns) / 1e9 : 0
        switch UInt32(event.end) {
        case FERRY_END_FIN.rawValue: end = .fin
        case FERRY_END_RST.rawValue: end = .rst
        case FERRY_END_TIMEOUT.rawValue: end = .timeout
        default: end = .unknown
        }
        lastState = KernelConnection.stateName(stats.state)
    }
}

extension ferry_close_event: @retroactive @unchecked Sendable {}
