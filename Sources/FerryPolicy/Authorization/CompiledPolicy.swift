import FerryMesh

/// An AuthorizationPolicy turned into constraints that test a request directly.
/// A class so that the per-workload lists share one copy.
final class CompiledPolicy: Sendable {
    let reference: PolicyReference
    let action: AuthorizationPolicy.Action
    let selector: [String: String]
    let rules: [CompiledRule]

    init(_ policy: AuthorizationPolicy) {
        reference = PolicyReference(namespace: policy.namespace, name: policy.name)
        action = policy.action
        selector = policy.selector
        rules = policy.rules.map(CompiledRule.init)
    }

    /// Istio's scope: the policy's namespace, or every namespace from the root
    /// namespace; then the selector, if any, must match the workload's labels.
    func applies(to workload: Workload, rootNamespace: String) -> Bool {
        (reference.namespace == workload.namespace || reference.namespace == rootNamespace)
            && labelsMatch(selector: selector, labels: workload.labels)
    }

    /// The index of the first rule that matches; nil when none does (always for
    /// a policy without rules).
    ///
    /// On plain TCP, HTTP-only fields cannot be evaluated, and Istio reads them
    /// in the direction that fails closed (docs: "Authorization for TCP
    /// traffic"): an ALLOW rule that uses one is ignored whole, so it allows
    /// nothing; DENY and AUDIT rules ignore just those fields, so they match more.
    func firstMatchingRule(_ request: AuthorizationRequest) -> Int? {
        let skipsHTTPRules = request.http == nil && action == .allow
        return rules.firstIndex { rule in
            !(skipsHTTPRules && rule.usesHTTP) && rule.matches(request)
        }
    }
}

/// One rule: some source, some operation and every condition must match.
struct CompiledRule: Sendable {
    let from: [CompiledSource]
    let to: [CompiledOperation]
    let when: [CompiledCondition]
    /// Any HTTP-only field or condition key in the rule.
    let usesHTTP: Bool

    init(_ rule: AuthorizationPolicy.Rule) {
        from = rule.from.map(CompiledSource.init)
        to = rule.to.map(CompiledOperation.init)
        when = rule.when.map(CompiledCondition.init)
        usesHTTP = rule.to.contains(where: \.usesHTTP) || rule.when.contains(where: \.usesHTTP)
    }

    /// HTTP-only parts match a TCP request; `CompiledPolicy` keeps ALLOW rules
    /// that have such parts away from TCP requests before this is asked.
    func matches(_ request: AuthorizationRequest) -> Bool {
        (from.isEmpty || from.contains { $0.matches(request) })
            && (to.isEmpty || to.contains { $0.matches(request) })
            && when.allSatisfy { $0.matches(request) }
    }
}

struct CompiledSource: Sendable {
    let principals: StringConstraint
    let namespaces: StringConstraint
    let ipBlocks: CIDRConstraint
    let remoteIPBlocks: CIDRConstraint

    init(_ source: AuthorizationPolicy.Source) {
        principals = StringConstraint(source.principals)
        namespaces = StringConstraint(source.namespaces)
        ipBlocks = CIDRConstraint(source.ipBlocks)
        remoteIPBlocks = CIDRConstraint(source.remoteIPBlocks)
    }

    func matches(_ request: AuthorizationRequest) -> Bool {
        principals.matches(request.sourcePrincipal)
            && namespaces.matches(request.sourceNamespace)
            && ipBlocks.matches(request.sourceIP)
            && remoteIPBlocks.matches(request.remoteIP ?? request.sourceIP)
    }
}

struct CompiledOperation: Sendable {
    let ports: PortConstraint
    let hosts: StringConstraint
    let methods: StringConstraint
    let paths: StringConstraint

    init(_ operation: AuthorizationPolicy.Operation) {
        ports = PortConstraint(operation.ports)
        hosts = StringConstraint(operation.hosts, ignoringCase: true)
        methods = StringConstraint(operation.methods)
        paths = StringConstraint(operation.paths)
    }

    func matches(_ request: AuthorizationRequest) -> Bool {
        guard ports.matches(request.destinationPort) else { return false }
        guard let http = request.http else { return true }  // HTTP-only fields are ignored on TCP
        return hosts.matches(http.host) && methods.matches(http.method)
            && (paths.isEmpty || paths.matches(http.pathWithoutQuery))
    }
}

enum CompiledCondition: Sendable {
    case sourceIP(CIDRConstraint)
    case remoteIP(CIDRConstraint)
    case destinationIP(CIDRConstraint)
    case destinationPort(PortConstraint)
    case sourceNamespace(StringConstraint)
    case sourcePrincipal(StringConstraint)
    case requestHeader(name: String, StringConstraint)

    init(_ condition: AuthorizationPolicy.Condition) {
        switch condition {
        case .sourceIP(let match): self = .sourceIP(CIDRConstraint(match))
        case .remoteIP(let match): self = .remoteIP(CIDRConstraint(match))
        case .destinationIP(let match): self = .destinationIP(CIDRConstraint(match))
        case .destinationPort(let match): self = .destinationPort(PortConstraint(match))
        case .sourceNamespace(let match): self = .sourceNamespace(StringConstraint(match))
        case .sourcePrincipal(let match): self = .sourcePrincipal(StringConstraint(match))
        case .requestHeader(let name, let match): self = .requestHeader(name: name, StringConstraint(match))
        }
    }

    func matches(_ request: AuthorizationRequest) -> Bool {
        switch self {
        case .sourceIP(let constraint): constraint.matches(request.sourceIP)
        case .remoteIP(let constraint): constraint.matches(request.remoteIP ?? request.sourceIP)
        case .destinationIP(let constraint): constraint.matches(request.destinationIP)
        case .destinationPort(let constraint): constraint.matches(request.destinationPort)
        case .sourceNamespace(let constraint): constraint.matches(request.sourceNamespace)
        case .sourcePrincipal(let constraint): constraint.matches(request.sourcePrincipal)
        case .requestHeader(let name, let constraint):
            // HTTP-only: ignored on TCP, like the operation's HTTP fields.
            if let http = request.http { constraint.matches(http.headers[name]) } else { true }
        }
    }
}
