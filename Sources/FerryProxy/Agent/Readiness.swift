import Synchronization

/// What `/healthz/ready` (:15021) waits for, as ztunnel's readiness does: a
/// first mesh state (the directory read, or every Kubernetes kind listed) and
/// the listeners that capture sends to. Before that an enrolled workload's
/// connect would be refused or passed through, so a DaemonSet rolling update
/// must not count the agent as up.
public final class Readiness: Sendable {
    public enum Gate: String, Sendable, CaseIterable {
        case outboundListener = "outbound listener (:15001)"
        case inboundListener = "inbound listener (:15006)"
    }

    private let pending = Mutex<Set<Gate>>(Set(Gate.allCases))
    private let noticed = Mutex<[String]>([])

    public init() {}

    /// `gate` is open; readiness no longer waits for it.
    public func done(_ gate: Gate) {
        _ = pending.withLock { $0.remove(gate) }
    }

    /// Something readiness does not wait for but an operator should see (a
    /// listener skipped because the node lacks its address family); shown by
    /// `/healthz/ready` and `ferryctl status`.
    public func note(_ notice: String) {
        noticed.withLock { if !$0.contains(notice) { $0.append(notice) } }
    }

    public var notices: [String] { noticed.withLock { $0 } }

    /// What is still missing, in a fixed order; empty when ready.
    public func waitingFor(meshStateGeneration generation: Int) -> [String] {
        let gates = pending.withLock { pending in Gate.allCases.filter { pending.contains($0) } }
        return (generation > 0 ? [] : ["mesh state"]) + gates.map(\.rawValue)
    }
}
