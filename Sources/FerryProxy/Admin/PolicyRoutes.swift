import FerryHTTP
import FerryMesh
import FerryPolicy

/// `/policies` and `/policies/check` of the admin API.
struct PolicyRoutes {
    let state: MeshState
    let policies: SecurityPolicies

    func list() -> [AdminAPI.PolicyInfo] {
        let root = state.config.rootNamespace
        var applying: [String: [String]] = [:]
        for workload in state.workloads {
            for (policy, _) in policies.authorizer.policies(applyingTo: workload) {
                applying[policy.description, default: []].append(workload.key)
            }
        }
        let authorization = state.authorizationPolicies.map { policy in
            AdminAPI.PolicyInfo(
                kind: "AuthorizationPolicy", namespace: policy.namespace, name: policy.name, action: policy.action.rawValue,
                scope: Self.scope(namespace: policy.namespace, selector: policy.selector, root: root),
                workloads: applying[policy.key] ?? [], rules: policy.rules.count
            )
        }
        let peer = state.peerAuthentications.map { policy in
            let selected = state.workloads.filter { workload in
                if !policy.selector.isEmpty {
                    return workload.namespace == policy.namespace && labelsMatch(selector: policy.selector, labels: workload.labels)
                }
                return policy.namespace == root || workload.namespace == policy.namespace
            }
            let ports = policy.portModes.sorted { $0.key < $1.key }.map { " port \($0.key): \($0.value.rawValue)" }.joined()
            return AdminAPI.PolicyInfo(
                kind: "PeerAuthentication", namespace: policy.namespace, name: policy.name,
                action: policy.mode.rawValue + ports,
                scope: Self.scope(namespace: policy.namespace, selector: policy.selector, root: root),
                workloads: selected.map(\.key), rules: 0
            )
        }
        return authorization + peer
    }

    static func scope(namespace: String, selector: [String: String], root: String) -> String {
        let labels = selector.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
        switch (namespace == root, selector.isEmpty) {
        case (true, true): return "mesh-wide"
        case (true, false): return "workloads with \(labels), every namespace"
        case (false, true): return "namespace \(namespace)"
        case (false, false): return "workloads with \(labels) in \(namespace)"
        }
    }

    /// `from`: a SPIFFE id or an IP; `to`: WORKLOAD:PORT (namespace/name or name).
    func check(query: [String: String]) -> HTTPResponse {
        guard let from = query["from"], let to = query["to"] else {
            return .error(.badRequest, "give from=SPIFFE_ID|IP and to=WORKLOAD:PORT")
        }
        guard let colon = to.lastIndex(of: ":"), let port = Int(to[to.index(after: colon)...]), (1...65535).contains(port) else {
            return .error(.badRequest, "to '\(to)' is not WORKLOAD:PORT")
        }
        let name = String(to[..<colon])
        let matches = state.workloads.filter { $0.key == name || $0.name == name }
        guard matches.count == 1, let workload = matches.first else {
            return .error(.badRequest, matches.isEmpty ? "no workload '\(name)'" : "'\(name)' is ambiguous: \(matches.map(\.key).joined(separator: ", "))")
        }
        let identity = SpiffeID(from)
        let sourceIP = IPAddress(from)
        guard identity != nil || sourceIP != nil else {
            return .error(.badRequest, "from '\(from)' is neither spiffe://… nor an IP address")
        }
        var http: HTTPRequestAttributes?
        if query["method"] != nil || query["path"] != nil {
            http = HTTPRequestAttributes(host: query["host"] ?? name, method: query["method"] ?? "GET", path: query["path"] ?? "/")
        }
        let request = AuthorizationRequest(
            destination: workload, destinationIP: workload.addresses.first ?? IPAddress("0.0.0.0")!, destinationPort: port,
            source: identity, sourceIP: sourceIP, http: http
        )
        let decision = policies.authorizer.evaluate(request)
        return .json(AdminAPI.PolicyCheck(
            allowed: decision.allowed, policy: decision.policy?.description, action: decision.action?.rawValue,
            reason: decision.reason, source: from, destination: "\(workload.key):\(port)",
            peerAuthentication: policies.peerAuthentication.mode(for: workload, port: port).rawValue
        ))
    }
}
