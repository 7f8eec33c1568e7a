import FerryMesh

// An AuthorizationPolicy turned into constraints that test a request directly.
// Every node is a final class: a struct holding several arrays is copied, one
// retain per array, each time a loop hands it out, and on the decision path
// those retains cost more than the matching itself.

/// One policy; the per-workload lists share it.
final class CompiledPolicy: Sendable {
    let reference: PolicyReference
    let action: AuthorizationPolicy.Action
    let selector: [String: String]
    let rules: [CompiledRule]

    init(_ policy: AuthorizationPolicy, trustDomain: String) {
        reference = PolicyReference(namespace: policy.namespace, name: policy.name)
        action = policy.action
        selector = policy.selector
        let principals = PrincipalPatterns(trustDomain: trustDomain)
        rules = policy.rules.map { CompiledRule($0, principals) }
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
    /// A connection whose requests were judged upstream reads them the other
    /// way (`AuthorizationRequest.httpJudgedUpstream`).
    func firstMatchingRule(_ request: AuthorizationRequest) -> Int? {
        let skipsHTTPRules = request.http == nil && (request.httpJudgedUpstream ? action != .allow : action == .allow)
        return rules.firstIndex { rule in
            !(skipsHTTPRules && rule.usesHTTP) && rule.matches(request)
        }
    }
}

/// One rule: some source, some operation and every condition must match.
final class CompiledRule: Sendable {
    let from: [CompiledSource]
    let to: [CompiledOperation]
    let when: [CompiledCondition]
    /// Any HTTP-only field or condition key in the rule.
    let usesHTTP: Bool

    init(_ rule: AuthorizationPolicy.Rule, _ principals: PrincipalPatterns) {
        from = rule.from.map { CompiledSource($0, principals) }
        to = rule.to.map(CompiledOperation.init)
        when = rule.when.map { CompiledCondition($0, principals) }
        usesHTTP = rule.to.contains(where: \.usesHTTP) || rule.when.contains(where: \.usesHTTP)
    }

    /// Whether some operation of the rule admits the port (a rule without
    /// operations admits every port).
    func canReach(port: Int) -> Bool {
        to.isEmpty || to.contains { $0.ports.matches(port) }
    }

    /// HTTP-only parts match a TCP request; `CompiledPolicy` keeps ALLOW rules
    /// that have such parts away from TCP requests before this is asked.
    func matches(_ request: AuthorizationRequest) -> Bool {
        (from.isEmpty || from.contains { $0.matches(request) })
            && (to.isEmpty || to.contains { $0.matches(request) })
            && when.allSatisfy { $0.matches(request) }
    }
}

final class CompiledSource: Sendable {
    let principals: StringConstraint
    let namespaces: StringConstraint
    let ipBlocks: CIDRConstraint
    let remoteIPBlocks: CIDRConstraint

    init(_ source: AuthorizationPolicy.Source, _ principalPatterns: PrincipalPatterns) {
        principals = StringConstraint(principalPatterns.resolve(source.principals))
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

final class CompiledOperation: Sendable {
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

    /// HTTP fields are read in place (`request.http?.host`): binding
    /// `request.http` would copy its strings and headers.
    func matches(_ request: AuthorizationRequest) -> Bool {
        guard ports.matches(request.destinationPort) else { return false }
        if case .none = request.http { return true }  // HTTP-only fields are ignored on TCP
        return (hosts.isEmpty || hosts.matches(request.http?.host))
            && (methods.isEmpty || methods.matches(request.http?.method))
            && (paths.isEmpty || paths.matches(request.http?.pathWithoutQuery))
    }
}

/// One `when` entry. The key picks which constraint is read, so the values
/// sit in plain fields rather than in enum payloads, which are copied out.
final class CompiledCondition: Sendable {
    enum Key: Sendable {
        case sourceIP, remoteIP, destinationIP, destinationPort, sourceNamespace, sourcePrincipal
        case requestHeader(String)
    }

    let key: Key
    let addresses: CIDRConstraint
    let ports: PortConstraint
    let strings: StringConstraint

    init(_ condition: AuthorizationPolicy.Condition, _ principals: PrincipalPatterns) {
        var addresses = AttributeMatch<CIDR>(), ports = AttributeMatch<Int>(), strings = AttributeMatch<StringMatch>()
        switch condition {
        case .sourceIP(let match): key = .sourceIP; addresses = match
        case .remoteIP(let match): key = .remoteIP; addresses = match
        case .destinationIP(let match): key = .destinationIP; addresses = match
        case .destinationPort(let match): key = .destinationPort; ports = match
        case .sourceNamespace(let match): key = .sourceNamespace; strings = match
        case .sourcePrincipal(let match): key = .sourcePrincipal; strings = principals.resolve(match)
        case .requestHeader(let name, let match): key = .requestHeader(name); strings = match
        }
        self.addresses = CIDRConstraint(addresses)
        self.ports = PortConstraint(ports)
        self.strings = StringConstraint(strings)
    }

    func matches(_ request: AuthorizationRequest) -> Bool {
        switch key {
        case .sourceIP: addresses.matches(request.sourceIP)
        case .remoteIP: addresses.matches(request.remoteIP ?? request.sourceIP)
        case .destinationIP: addresses.matches(request.destinationIP)
        case .destinationPort: ports.matches(request.destinationPort)
        case .sourceNamespace: strings.matches(request.sourceNamespace)
        case .sourcePrincipal: strings.matches(request.sourcePrincipal)
        case .requestHeader(let name):
            // HTTP-only: ignored on TCP, like the operation's HTTP fields.
            if case .none = request.http { true } else { strings.matches(request.http?.headers[name]) }
        }
    }
}

/// In a policy, the trust domain `cluster.local` stands for the mesh's own
/// trust domain (Istio, "Trust Domain Migration", best practices), so policies
/// written for the default keep working under another `trustDomain`. As in
/// istiod, only patterns that name a trust domain ("cluster.local/ns/…",
/// exactly or as a prefix) are rewritten; "*" and "*/sa/x" name none.
struct PrincipalPatterns {
    static let localAlias = "cluster.local"
    let trustDomain: String

    func resolve(_ match: AttributeMatch<StringMatch>) -> AttributeMatch<StringMatch> {
        guard trustDomain != Self.localAlias else { return match }
        return AttributeMatch(match.values.map(resolve), not: match.notValues.map(resolve))
    }

    func resolve(_ pattern: StringMatch) -> StringMatch {
        let aliased = Self.localAlias + "/ns/"
        switch pattern {
        case .exact(let text) where text.hasPrefix(aliased):
            return .exact(trustDomain + text.dropFirst(Self.localAlias.count))
        case .prefix(let text) where text.hasPrefix(aliased):
            return .prefix(trustDomain + text.dropFirst(Self.localAlias.count))
        default:
            return pattern
        }
    }
}
