import FerryMesh

/// The mutual TLS mode a workload's port accepts, from the PeerAuthentication
/// policies of one MeshState, composed the way istiod composes them:
///
/// - three scopes, most specific wins: workload (a selector, outside the root
///   namespace), namespace (no selector), mesh (no selector, root namespace);
/// - a scope whose mode is UNSET inherits the enclosing one; the mesh's default
///   is PERMISSIVE;
/// - the workload policy's `portLevelMtls` overrides its port (UNSET there
///   inherits the workload's resolved mode);
/// - several policies in one scope: the oldest (`creationTimestamp`) wins, then
///   the first by name, so the answer does not depend on file order;
/// - a policy with a selector in the root namespace selects nothing: istiod
///   only takes selector-less policies from there.
public final class PeerAuthenticationResolver: Sendable {
    public let rootNamespace: String
    private let meshWide: PeerAuthentication?
    private let namespaceWide: [String: PeerAuthentication]
    /// Per namespace, oldest first.
    private let workloadSpecific: [String: [PeerAuthentication]]

    public init(state: MeshState) {
        let root = state.config.rootNamespace
        let ordered = state.peerAuthentications.sorted {
            ($0.creationTimestamp ?? "", $0.name) < ($1.creationTimestamp ?? "", $1.name)
        }
        rootNamespace = root
        meshWide = ordered.first { $0.namespace == root && $0.selector.isEmpty }
        var namespaceWide: [String: PeerAuthentication] = [:]
        var workloadSpecific: [String: [PeerAuthentication]] = [:]
        for policy in ordered where policy.namespace != root {
            if policy.selector.isEmpty {
                if namespaceWide[policy.namespace] == nil { namespaceWide[policy.namespace] = policy }
            } else {
                workloadSpecific[policy.namespace, default: []].append(policy)
            }
        }
        self.namespaceWide = namespaceWide
        self.workloadSpecific = workloadSpecific
    }

    /// Never `.unset`.
    public func mode(for workload: Workload, port: Int) -> MTLSMode {
        let scopes = policies(for: workload)
        var mode = MTLSMode.permissive
        for policy in [scopes.mesh, scopes.namespace, scopes.workload] {
            if let policy, policy.mode != .unset { mode = policy.mode }
        }
        if let portMode = scopes.workload?.portModes[port], portMode != .unset { mode = portMode }
        return mode
    }

    /// The policy chosen at each scope, for explaining a mode.
    public func policies(for workload: Workload)
        -> (workload: PeerAuthentication?, namespace: PeerAuthentication?, mesh: PeerAuthentication?) {
        let selected = workloadSpecific[workload.namespace]?.first {
            labelsMatch(selector: $0.selector, labels: workload.labels)
        }
        return (selected, namespaceWide[workload.namespace], meshWide)
    }
}
