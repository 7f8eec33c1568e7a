import FerryMesh

/// Decides AuthorizationPolicy for one MeshState snapshot; immutable, so any
/// number of connections can ask at once without a lock.
///
/// Built once per snapshot (see `SecurityPolicyCache`): policies are compiled
/// and grouped by namespace, and for every workload of the snapshot the list of
/// policies that apply to it is worked out in advance. A decision then costs
/// one dictionary lookup plus the rules of those few policies, however many
/// policies the mesh has. A workload the snapshot does not know (or knows with
/// other labels) is still decided correctly, from its namespace's group and the
/// root namespace's.
public final class Authorizer: Sendable {
    public let generation: Int
    public let rootNamespace: String
    /// Compiled policies by namespace, each group in key order.
    private let policiesByNamespace: [String: [CompiledPolicy]]
    private let workloadPolicies: [WorkloadName: WorkloadPolicies]

    public init(state: MeshState) {
        generation = state.generation
        rootNamespace = state.config.rootNamespace
        let trustDomain = state.config.trustDomain
        policiesByNamespace = Dictionary(grouping: state.authorizationPolicies.map { CompiledPolicy($0, trustDomain: trustDomain) },
                                         by: \.reference.namespace)
        var byWorkload: [WorkloadName: WorkloadPolicies] = [:]
        for workload in state.workloads {
            byWorkload[WorkloadName(workload)] = Self.policies(for: workload, in: policiesByNamespace, rootNamespace: rootNamespace)
        }
        workloadPolicies = byWorkload
    }

    public func evaluate(_ request: AuthorizationRequest) -> AuthorizationDecision {
        policies(for: request.destination).decide(request)
    }

    /// Whether connections to a workload's port can be decided only request by
    /// request: some policy that applies to it has a rule with an HTTP-only
    /// part (hosts, methods, paths, their not- forms, request headers) whose
    /// operations can reach that port. The destination agent then parses the
    /// requests itself; without such a rule the port stays a byte stream.
    public func needsRequestAttributes(destination: Workload, port: Int) -> Bool {
        let applicable = policies(for: destination)
        return (applicable.deny + applicable.audit + applicable.allow).contains { policy in
            policy.rules.contains { $0.usesHTTP && $0.canReach(port: port) }
        }
    }

    /// The policies that apply to a workload, in key order (for `ferryctl` and the admin API).
    public func policies(applyingTo workload: Workload) -> [(policy: PolicyReference, action: AuthorizationPolicy.Action)] {
        let applicable = policies(for: workload)
        return (applicable.deny + applicable.audit + applicable.allow)
            .sorted { $0.reference.description < $1.reference.description }
            .map { ($0.reference, $0.action) }
    }

    private func policies(for workload: Workload) -> WorkloadPolicies {
        // Labels are compared so that a Workload from another snapshot cannot be
        // judged by a stale list; a copy from this snapshot shares its label
        // storage, which makes the comparison immediate.
        if let known = workloadPolicies[WorkloadName(workload)], known.labels == workload.labels {
            return known
        }
        return Self.policies(for: workload, in: policiesByNamespace, rootNamespace: rootNamespace)
    }

    private static func policies(for workload: Workload, in byNamespace: [String: [CompiledPolicy]],
                                 rootNamespace: String) -> WorkloadPolicies {
        var candidates = byNamespace[workload.namespace] ?? []
        if workload.namespace != rootNamespace { candidates += byNamespace[rootNamespace] ?? [] }
        let applicable = candidates
            .filter { $0.applies(to: workload, rootNamespace: rootNamespace) }
            .sorted { $0.reference.description < $1.reference.description }
        return WorkloadPolicies(
            labels: workload.labels,
            deny: applicable.filter { $0.action == .deny },
            audit: applicable.filter { $0.action == .audit },
            allow: applicable.filter { $0.action == .allow }
        )
    }
}

/// A workload's identity within a snapshot, hashed without building a string.
struct WorkloadName: Hashable, Sendable {
    let namespace: String
    let name: String

    init(_ workload: Workload) {
        namespace = workload.namespace
        name = workload.name
    }
}

/// The policies that apply to one workload, split by action, each in key order.
/// A class, so a lookup hands out one reference rather than four.
final class WorkloadPolicies: Sendable {
    let labels: [String: String]
    let deny: [CompiledPolicy]
    let audit: [CompiledPolicy]
    let allow: [CompiledPolicy]

    init(labels: [String: String], deny: [CompiledPolicy], audit: [CompiledPolicy], allow: [CompiledPolicy]) {
        self.labels = labels
        self.deny = deny
        self.audit = audit
        self.allow = allow
    }

    func decide(_ request: AuthorizationRequest) -> AuthorizationDecision {
        var accumulator = DecisionAccumulator()
        for policy in audit { accumulator.consider(policy, for: request) }
        for policy in deny where !accumulator.isDenied { accumulator.consider(policy, for: request) }
        if !accumulator.isDenied {
            for policy in allow { accumulator.consider(policy, for: request) }
        }
        return accumulator.decision()
    }
}
