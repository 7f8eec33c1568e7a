import Synchronization

/// A workload pair as Ferry's kernel series name it: Istio's workload and
/// namespace labels of both ends, so same-named workloads of two namespaces
/// stay apart.
public struct WorkloadPair: Hashable, Sendable {
    public var sourceWorkload: String
    public var sourceNamespace: String
    public var destinationWorkload: String
    public var destinationNamespace: String

    public init(sourceWorkload: String, sourceNamespace: String, destinationWorkload: String, destinationNamespace: String) {
        self.sourceWorkload = sourceWorkload
        self.sourceNamespace = sourceNamespace
        self.destinationWorkload = destinationWorkload
        self.destinationNamespace = destinationNamespace
    }

    public init(_ labels: TrafficLabels) {
        self.init(sourceWorkload: labels.sourceWorkload, sourceNamespace: labels.sourceNamespace,
                  destinationWorkload: labels.destinationWorkload, destinationNamespace: labels.destinationNamespace)
    }

    var labels: [(String, String)] {
        [("source_workload", sourceWorkload), ("source_workload_namespace", sourceNamespace),
         ("destination_workload", destinationWorkload), ("destination_workload_namespace", destinationNamespace)]
    }
}

/// Which socket of a workload pair's connection.
public enum SocketLeg: String, Sendable, Hashable {
    /// The client's side: the workload's own socket to its agent (captured), or
    /// the agent's accepted socket from a plaintext client outside the mesh.
    case client
    /// The destination's side: the agent's socket to the destination workload,
    /// or to a destination outside the mesh (passthrough).
    case server
}

/// Whose numbers a socket's RTT and retransmits are.
public enum SocketOwner: Hashable, Sendable {
    /// One workload pair's own socket.
    case pair(WorkloadPair, SocketLeg)
    /// An agent-to-agent (HBONE) socket toward `peerNode`: it carries many
    /// pairs, so it counts for the node pair only.
    case node(String)
}

/// Socket cookie → owner, written by the data path as it learns its sockets'
/// cookies and read when the kernel reports on them. A released socket (the
/// agent closed it) stays `retention` longer, for its close record; the
/// kernel reaches TCP_CLOSE after the FIN exchange, which a lossy path drags out.
public final class SocketOwners: Sendable {
    private struct Entry {
        var owner: SocketOwner
        var releasedAt: ContinuousClock.Instant?
    }

    private let entries = Mutex<[UInt64: Entry]>([:])
    public let retention: Duration

    public init(retention: Duration = .seconds(120)) {
        self.retention = retention
    }

    /// Cookie 0 means "not known" and is ignored.
    public func register(_ cookie: UInt64, _ owner: SocketOwner) {
        guard cookie != 0 else { return }
        entries.withLock { $0[cookie] = Entry(owner: owner, releasedAt: nil) }
    }

    /// The agent is done with these sockets; their close records may still come.
    public func release(_ cookies: [UInt64], now: ContinuousClock.Instant = .now) {
        entries.withLock { entries in
            for cookie in cookies where cookie != 0 { entries[cookie]?.releasedAt = now }
        }
    }

    public func owner(of cookie: UInt64) -> SocketOwner? {
        entries.withLock { $0[cookie]?.owner }
    }

    /// The owner of a socket that has closed; forgets it.
    public func take(_ cookie: UInt64) -> SocketOwner? {
        entries.withLock { $0.removeValue(forKey: cookie)?.owner }
    }

    /// Forgets released sockets whose close record never came (dropped, or
    /// closed before this agent started).
    public func prune(now: ContinuousClock.Instant = .now) {
        entries.withLock { entries in
            entries = entries.filter { _, entry in entry.releasedAt.map { now - $0 < retention } ?? true }
        }
    }

    public var count: Int { entries.withLock { $0.count } }
}
