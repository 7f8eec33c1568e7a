import FerryMesh

/// Istio's order of evaluation, fed one applicable policy at a time:
///
/// 1. (CUSTOM: Ferry refuses such policies when reading them.)
/// 2. Any matching DENY policy denies.
/// 3. No ALLOW policy applies to the workload: allow.
/// 4. A matching ALLOW policy allows.
/// 5. Otherwise deny.
///
/// AUDIT policies only collect. The outcome does not depend on the order in
/// which policies are fed; which policy is *named* does (the first to match),
/// so both authorizers feed them in key order.
/// The request is passed to `consider` rather than stored: it holds a whole
/// Workload, and copying it would cost more retains than a rule check.
struct DecisionAccumulator {
    private var denied: (policy: CompiledPolicy, rule: Int)?
    private var allowed: (policy: CompiledPolicy, rule: Int)?
    private var allowPolicyApplies = false
    private var audited: [PolicyReference] = []

    /// True once a DENY policy matched: no ALLOW policy can change that.
    var isDenied: Bool { denied != nil }

    mutating func consider(_ policy: CompiledPolicy, for request: AuthorizationRequest) {
        switch policy.action {
        case .deny:
            if denied == nil, let rule = policy.firstMatchingRule(request) { denied = (policy, rule) }
        case .allow:
            allowPolicyApplies = true
            if denied == nil, allowed == nil, let rule = policy.firstMatchingRule(request) { allowed = (policy, rule) }
        case .audit:
            if policy.firstMatchingRule(request) != nil { audited.append(policy.reference) }
        }
    }

    func decision() -> AuthorizationDecision {
        if let denied {
            return AuthorizationDecision(allowed: false, cause: .deniedByPolicy, policy: denied.policy.reference,
                                         action: .deny, rule: denied.rule, auditPolicies: audited)
        }
        if !allowPolicyApplies {
            return AuthorizationDecision(allowed: true, cause: .noAllowPolicy, auditPolicies: audited)
        }
        if let allowed {
            return AuthorizationDecision(allowed: true, cause: .allowedByPolicy, policy: allowed.policy.reference,
                                         action: .allow, rule: allowed.rule, auditPolicies: audited)
        }
        return AuthorizationDecision(allowed: false, cause: .noAllowPolicyMatched, auditPolicies: audited)
    }
}
