import FerryMesh
import FerryPolicy
import Testing

/// Precedence of PeerAuthentication: workload > namespace > mesh > PERMISSIVE,
/// UNSET inherits, port-level modes override the workload's.
@Suite struct PeerAuthenticationResolverTests {
    static func peer(_ name: String, namespace: String, selector: String? = nil, mode: String? = nil,
                     ports: String? = nil, created: String? = nil) -> String {
        var metadata = "{name: \(name), namespace: \(namespace)"
        if let created { metadata += ", creationTimestamp: \"\(created)\"" }
        var spec: [String] = []
        if let selector { spec.append("selector: {matchLabels: \(selector)}") }
        if let mode { spec.append("mtls: {mode: \(mode)}") }
        if let ports { spec.append("portLevelMtls: \(ports)") }
        return "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: \(metadata)}\nspec: {\(spec.joined(separator: ", "))}"
    }

    static let meshStrict = peer("default", namespace: "istio-system", mode: "STRICT")
    static let meshUnset = peer("default", namespace: "istio-system")
    static let fooPermissive = peer("default", namespace: "foo", mode: "PERMISSIVE")
    static let fooUnset = peer("default", namespace: "foo", mode: "UNSET")
    static let fooDisable = peer("default", namespace: "foo", mode: "DISABLE")
    static let httpbinStrict = peer("httpbin", namespace: "foo", selector: "{app: httpbin}", mode: "STRICT")
    static let httpbinPort80Disabled = peer("httpbin-ports", namespace: "foo", selector: "{app: httpbin}",
                                            ports: "{80: {mode: DISABLE}, 8443: {mode: UNSET}}")

    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var policies: [String]
        var workload = "foo/httpbin"
        var port = 8000
        var mode: MTLSMode
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "no policy is PERMISSIVE", policies: [], mode: .permissive),
        Case(name: "mesh-wide STRICT", policies: [meshStrict], mode: .strict),
        Case(name: "mesh-wide UNSET is PERMISSIVE", policies: [meshUnset], mode: .permissive),
        Case(name: "namespace overrides mesh", policies: [meshStrict, fooPermissive], mode: .permissive),
        Case(name: "namespace UNSET inherits mesh", policies: [meshStrict, fooUnset], mode: .strict),
        Case(name: "namespace policy stays in its namespace", policies: [meshStrict, fooDisable], workload: "bar/httpbin",
             mode: .strict),
        Case(name: "workload overrides namespace", policies: [fooDisable, httpbinStrict], mode: .strict),
        Case(name: "workload selector must match", policies: [fooDisable, httpbinStrict], workload: "foo/products", mode: .disable),
        Case(name: "port-level overrides the workload", policies: [meshStrict, httpbinPort80Disabled], port: 80, mode: .disable),
        Case(name: "other ports keep the inherited mode", policies: [meshStrict, httpbinPort80Disabled], port: 81, mode: .strict),
        Case(name: "port-level UNSET inherits", policies: [meshStrict, fooPermissive, httpbinPort80Disabled], port: 8443,
             mode: .permissive),
        Case(name: "a selector in the root namespace selects nothing",
             policies: [peer("strict-httpbin", namespace: "istio-system", selector: "{app: httpbin}", mode: "STRICT")],
             mode: .permissive),
        Case(name: "the oldest namespace policy wins", policies: [
            peer("b-newer", namespace: "foo", mode: "STRICT", created: "2024-05-01T00:00:00Z"),
            peer("a-older", namespace: "foo", mode: "DISABLE", created: "2024-01-01T00:00:00Z"),
        ], mode: .disable),
        Case(name: "the oldest workload policy wins", policies: [
            peer("x-old", namespace: "foo", selector: "{app: httpbin}", mode: "STRICT", created: "2023-01-01T00:00:00Z"),
            peer("a-new", namespace: "foo", selector: "{version: v1}", mode: "DISABLE", created: "2024-01-01T00:00:00Z"),
        ], mode: .strict),
        Case(name: "without timestamps the first by name wins", policies: [
            peer("b", namespace: "foo", mode: "STRICT"), peer("a", namespace: "foo", mode: "DISABLE"),
        ], mode: .disable),
        Case(name: "root-namespace workloads take the mesh policy", policies: [meshStrict], workload: "istio-system/gateway",
             mode: .strict),
    ]

    @Test(arguments: cases)
    func precedence(_ test: Case) throws {
        let state = try Fixtures.state(test.policies.joined(separator: "\n---\n"))
        let resolver = PeerAuthenticationResolver(state: state)
        #expect(resolver.mode(for: Fixtures.workload(test.workload, in: state), port: test.port) == test.mode)
    }

    @Test func explainsWhichPolicyWasChosenAtEachScope() throws {
        let state = try Fixtures.state([Self.meshStrict, Self.fooPermissive, Self.httpbinStrict].joined(separator: "\n---\n"))
        let chosen = PeerAuthenticationResolver(state: state).policies(for: Fixtures.workload("foo/httpbin", in: state))
        #expect(chosen.workload?.key == "foo/httpbin")
        #expect(chosen.namespace?.key == "foo/default")
        #expect(chosen.mesh?.key == "istio-system/default")
    }
}

@Suite struct SecurityPolicyCacheTests {
    @Test func buildsOncePerGenerationAndKeepsTheNewest() throws {
        let cache = SecurityPolicyCache()
        let first = try Fixtures.state(generation: 1)
        let second = try Fixtures.state(Fixtures.policy("allow-nothing", "{}"), generation: 2)

        let one = cache.policies(for: first)
        #expect(cache.policies(for: first).authorizer === one.authorizer)
        let two = cache.policies(for: second)
        #expect(two.generation == 2)
        #expect(!two.authorizer.evaluate(Fixtures.request(in: second)).allowed)
        // A straggler on the old snapshot gets its own engines, and the newest stays cached.
        #expect(cache.policies(for: first).authorizer.evaluate(Fixtures.request(in: first)).allowed)
        #expect(cache.policies(for: second).authorizer === two.authorizer)
    }
}
