import FerryMesh

/// Names one AuthorizationPolicy: "namespace/name".
public struct PolicyReference: Sendable, Hashable, Codable, CustomStringConvertible {
    public var namespace: String
    public var name: String

    public init(namespace: String, name: String) {
        self.namespace = namespace
        self.name = name
    }

    public var description: String { "\(namespace)/\(name)" }
}

/// The answer for one connection or request, with what decided it.
public struct AuthorizationDecision: Sendable, Hashable, CustomStringConvertible {
    /// Why the decision came out as it did: one of the steps of Istio's order
    /// (DENY, then ALLOW, then the default).
    public enum Cause: String, Sendable, Hashable, Codable {
        /// A DENY policy matched.
        case deniedByPolicy
        /// An ALLOW policy matched and no DENY policy did.
        case allowedByPolicy
        /// No ALLOW policy applies to the workload, and no DENY policy matched.
        case noAllowPolicy
        /// ALLOW policies apply to the workload, but none matched.
        case noAllowPolicyMatched
    }

    public var allowed: Bool
    public var cause: Cause
    /// The policy that decided: the matching DENY or ALLOW policy; nil when the
    /// default decided.
    public var policy: PolicyReference?
    /// `policy`'s action.
    public var action: AuthorizationPolicy.Action?
    /// The index of `policy`'s rule that matched.
    public var rule: Int?
    /// Every AUDIT policy that matched, whatever the decision.
    public var auditPolicies: [PolicyReference]

    public init(allowed: Bool, cause: Cause, policy: PolicyReference? = nil, action: AuthorizationPolicy.Action? = nil,
                rule: Int? = nil, auditPolicies: [PolicyReference] = []) {
        self.allowed = allowed
        self.cause = cause
        self.policy = policy
        self.action = action
        self.rule = rule
        self.auditPolicies = auditPolicies
    }

    /// For access logs and `ferryctl`; made on demand so deciding builds no string.
    public var reason: String {
        switch cause {
        case .deniedByPolicy: "denied by DENY policy \(policy?.description ?? "?") rule \(rule ?? 0)"
        case .allowedByPolicy: "allowed by ALLOW policy \(policy?.description ?? "?") rule \(rule ?? 0)"
        case .noAllowPolicy: "allowed: no ALLOW policy applies to the workload"
        case .noAllowPolicyMatched: "denied: ALLOW policies apply to the workload but none matched"
        }
    }

    public var description: String { reason }
}
