import Synchronization

/// Which :15006 listener pair (`ferry_inbound_value.listener`) serves each
/// workload that lives in a pod network namespace of its own. `PodListeners`
/// publishes it; `DatapathReconciler` writes it into `ferry_inbound`, so the
/// sk_lookup program in a pod's namespace hands connections to the listener
/// ferryd opened in that same namespace.
public final class InboundListenerPairs: Sendable {
    private let table = Mutex<(published: Bool, byWorkload: [String: UInt16])>((false, [:]))

    public init() {}

    /// The listener for a workload's addresses. Until `PodListeners` has
    /// published once, what the map already says is kept: after a restart the
    /// pinned entries still name the pairs of the previous run, which the new
    /// run takes over.
    func listener(for workloadKey: String, current: UInt16?) -> UInt16 {
        table.withLock { table in
            table.published ? table.byWorkload[workloadKey] ?? 0 : current ?? 0
        }
    }

    /// Returns whether anything changed (the first publication always does).
    func publish(_ byWorkload: [String: UInt16]) -> Bool {
        table.withLock { table in
            defer { table = (true, byWorkload) }
            return !table.published || table.byWorkload != byWorkload
        }
    }

    var published: Bool { table.withLock { $0.published } }
}
