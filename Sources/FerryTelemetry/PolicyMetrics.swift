import Prometheus
import Synchronization

/// `ferry_policy_decisions_total{policy,action,decision}`: one count per
/// authorization decision. `policy` is the deciding policy ("-" when the default
/// decided), so label values are bounded by the configuration.
public final class PolicyMetrics: Sendable {
    private let registry: PrometheusCollectorRegistry
    private let counters = Mutex<[[String]: Counter]>([:])

    public init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
    }

    /// `ferry_peer_claims_rejected_total{claim}`: something a peer said that the
    /// destination could not verify and did not use (claim="forwarded": a
    /// source address that is no workload of the peer's proven identity).
    public func claimRejected(_ claim: String) {
        let key = ["claim", claim]
        let counter = counters.withLock { counters in
            if let existing = counters[key] { return existing }
            let made = registry.counter(
                "ferry_peer_claims_rejected_total", help: "Peer claims the destination could not verify and ignored",
                labels: [("claim", claim)]
            )
            counters[key] = made
            return made
        }
        counter.increment()
    }

    public func decided(policy: String?, action: String?, allowed: Bool) {
        let key = [policy ?? "-", action ?? "-", allowed ? "allow" : "deny"]
        let counter = counters.withLock { counters in
            if let existing = counters[key] { return existing }
            let made = registry.counter(
                "ferry_policy_decisions_total", help: "Authorization decisions, by the policy that decided",
                labels: [("policy", key[0]), ("action", key[1]), ("decision", key[2])]
            )
            counters[key] = made
            return made
        }
        counter.increment()
    }
}
