import FerryMesh
import FerryPolicy

/// The `policy` scenario's mesh, written as the YAML a user would apply:
/// 100 namespaces of 10 workloads (`svc-0` … `svc-9`), one policy per workload
/// in its namespace (990 in all, ALLOW, DENY and AUDIT in turn, L4 and L7
/// fields) and 10 in the root namespace (mesh-wide DENY and AUDIT, and DENYs
/// selecting by label across namespaces): 1,000 policies.
struct PolicyMesh {
    static let namespaceCount = 100
    static let appsPerNamespace = 10
    static let rootPolicies = 10
    static let namespacedPolicies = 990

    static func namespace(_ index: Int) -> String { "ns-\(index)" }

    static func yaml() -> String {
        var documents: [String] = []
        for ns in 0..<namespaceCount {
            for app in 0..<appsPerNamespace {
                documents.append("""
                apiVersion: networking.istio.io/v1
                kind: WorkloadEntry
                metadata: {name: svc-\(app), namespace: \(namespace(ns)), labels: {app: svc-\(app), version: v\(app % 2 + 1)}}
                spec: {address: 10.\(ns).\(app).1, serviceAccount: svc-\(app)}
                """)
            }
        }
        for index in 0..<namespacedPolicies {
            documents.append(namespacedPolicy(ns: index % namespaceCount, app: index / namespaceCount))
        }
        for index in 0..<rootPolicies { documents.append(rootPolicy(index)) }
        return documents.joined(separator: "\n---\n")
    }

    /// The policy for `svc-<app>` in `ns-<ns>`; its kind turns with the app.
    static func namespacedPolicy(ns: Int, app: Int) -> String {
        let here = namespace(ns), next = namespace((ns + 1) % namespaceCount)
        let header = """
        apiVersion: security.istio.io/v1
        kind: AuthorizationPolicy
        metadata: {name: svc-\(app)-policy, namespace: \(here)}
        spec:
          selector: {matchLabels: {app: svc-\(app)}}

        """
        switch app % 5 {
        case 0: return header + """
              action: DENY
              rules:
              - from: [{source: {notNamespaces: [\(here), \(next)]}}]
                to: [{operation: {paths: ["/admin*"]}}]
            """
        case 1: return header + """
              rules:
              - from: [{source: {principals: ["cluster.local/ns/\(here)/sa/*"]}}]
                to: [{operation: {ports: ["8080", "9090"]}}]
              - from: [{source: {namespaces: [\(next)]}}]
                to: [{operation: {ports: ["9090"]}}]
            """
        case 2: return header + """
              rules:
              - from: [{source: {namespaces: [\(here), \(next)]}}]
                to: [{operation: {methods: [GET, HEAD], paths: ["/api/*"]}}]
              - from: [{source: {ipBlocks: ["10.\(ns).0.0/16"]}}]
            """
        case 3: return header + """
              action: AUDIT
              rules:
              - to: [{operation: {methods: [POST, DELETE]}}]
            """
        default: return header + """
              rules:
              - from: [{source: {principals: ["*"]}}]
                when:
                - {key: "request.headers[x-tenant]", values: [\(here)]}
                - {key: source.ip, values: ["10.0.0.0/8"]}
              - to: [{operation: {ports: ["15020"]}}]
            """
        }
    }

    static func rootPolicy(_ index: Int) -> String {
        let header = "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: mesh-\(index), namespace: istio-system}\nspec:\n"
        switch index {
        case 0: return header + "  action: DENY\n  rules:\n  - from: [{source: {ipBlocks: [\"192.0.2.0/24\"]}}]"
        case 1: return header + "  action: AUDIT\n  rules:\n  - to: [{operation: {paths: [\"/debug*\"]}}]"
        default:
            return header + """
              selector: {matchLabels: {app: svc-\(index), version: v\(index % 2 + 1)}}
              action: DENY
              rules:
              - from: [{source: {namespaces: ["ns-9*"]}}]
                to: [{operation: {notPorts: ["8080"]}}]
            """
        }
    }

    /// A shuffled mix: half L7, a tenth plaintext, a twentieth from a denied block,
    /// sources from the same, the next or any namespace.
    static func requests(_ count: Int, in state: MeshState, seed: UInt64) -> [AuthorizationRequest] {
        var random = SplitMix64(seed: seed)
        let paths = ["/api/v1/items", "/api/v2/orders?page=2", "/admin/users", "/debug/pprof", "/", "/healthz"]
        return (0..<count).map { _ in
            let destination = state.workloads.randomElement(using: &random)!
            let ns = Int(destination.namespace.dropFirst(3))!
            let sourceNamespace = switch Int.random(in: 0..<3, using: &random) {
            case 0: ns
            case 1: (ns + 1) % namespaceCount
            default: Int.random(in: 0..<namespaceCount, using: &random)
            }
            let plaintext = Int.random(in: 0..<10, using: &random) == 0
            let identity = plaintext ? nil : SpiffeID(trustDomain: "cluster.local", namespace: namespace(sourceNamespace),
                                                      serviceAccount: "svc-\(Int.random(in: 0..<appsPerNamespace, using: &random))")
            let sourceIP = Int.random(in: 0..<20, using: &random) == 0
                ? IPAddress("192.0.2.\(Int.random(in: 1...254, using: &random))")!
                : IPAddress("10.\(sourceNamespace).\(Int.random(in: 0..<appsPerNamespace, using: &random)).1")!
            let http: HTTPRequestAttributes? = Bool.random(using: &random)
                ? HTTPRequestAttributes(
                    host: "\(destination.name).\(destination.namespace).svc.cluster.local",
                    method: ["GET", "GET", "POST", "DELETE", "HEAD"].randomElement(using: &random)!,
                    path: paths.randomElement(using: &random)!,
                    headers: ["x-tenant": namespace(Bool.random(using: &random) ? ns : sourceNamespace), "user-agent": "bench/1"])
                : nil
            return AuthorizationRequest(
                destination: destination, destinationIP: destination.addresses[0],
                destinationPort: [8080, 9090, 15020, 5432].randomElement(using: &random)!,
                source: identity, sourceIP: sourceIP, http: http
            )
        }
    }
}

