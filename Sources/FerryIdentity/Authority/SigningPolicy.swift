import FerryMesh

public enum SigningDecision: Hashable, Sendable {
    case allow
    case refuse(reason: String)
}

/// Who may get which workload certificate: a node only for the identities of
/// workloads scheduled on it, and only in the mesh's trust domain. A compromised
/// node can therefore only impersonate what already runs on it (DESIGN.md §2).
public enum SigningPolicy {
    public static func decide(node: String, identity: SpiffeID, state: MeshState) -> SigningDecision {
        let trustDomain = state.config.trustDomain
        guard identity.trustDomain == trustDomain else {
            return .refuse(reason: "identity \(identity) is not in the mesh's trust domain \(trustDomain) (asked by node \(node))")
        }
        let onNode = state.workloads(onNode: node)
        if onNode.contains(where: { $0.identity(trustDomain: trustDomain) == identity }) {
            return .allow
        }
        // The reason goes back to the asking node, so it says nothing about where
        // the identity does run.
        return .refuse(reason: "node \(node) has no workload with identity \(identity)")
    }
}
