import Synchronization

/// What `/healthz/ready` (:15021) waits for, as ztunnel's readiness does: a
/// first mesh state (the directory read, or every Kubernetes kind listed) and
/// the listeners that capture sends to. Before that an enrolled workload's
/// connect would be refused or passed through, so a DaemonSet rolling update
/// must not count the agent as up.
public final class Readiness: Sendable {
    public enum Task: String, Sendable, CaseIterable {
        case outboundListener = "outbound listener (:15001)"
        case inboundListener = "inbound listener (:15006)"
    }

    private let pending = Mutex<Set<Task>>(Set(Task.allCases))

    public init() {}

    /// `task` is done; readiness no longer waits for it.
    public func done(_ task: Task) {
        _ = pending.withLock { $0.remove(task) }
    }

    /// What is still missing, in a fixed order; empty when ready.
    public func waitingFor(meshStateGeneration generation: Int) -> [String] {
        let tasks = pending.withLock { pending in Task.allCases.filter { pending.contains($0) } }
        return (generation > 0 ? [] : ["mesh state"]) + tasks.map(\.rawValue)
    }
}
