import FerryMesh
import Testing

@Suite struct TrafficInMeshStateTests {
    static let base = """
    apiVersion: networking.istio.io/v1
    kind: WorkloadEntry
    metadata: {name: echo-1, namespace: demo, labels: {app: echo}}
    spec: {address: 198.18.0.2}
    ---
    apiVersion: networking.istio.io/v1
    kind: WorkloadEntry
    metadata: {name: echo-2, namespace: demo, labels: {app: echo}}
    spec: {address: 198.18.0.3}
    ---
    apiVersion: v1
    kind: Service
    metadata: {name: echo, namespace: demo}
    spec: {clusterIP: 198.19.0.10, selector: {app: echo}, ports: [{name: http, port: 80}]}
    ---
    apiVersion: v1
    kind: Service
    metadata: {name: other, namespace: demo}
    spec: {clusterIP: 198.19.0.11, selector: {app: other}, ports: [{name: http, port: 80}]}
    """

    func state(_ yaml: String) throws -> MeshState {
        try MeshState(resources: ResourceDecoder.decode(yaml: Self.base + "\n---\n" + yaml, file: "t.yaml"), generation: 1)
    }

    func rule(_ name: String, _ namespace: String, host: String, age: String? = nil) -> String {
        let stamp = age.map { ", creationTimestamp: \"\($0)\"" } ?? ""
        return "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: \(name), namespace: \(namespace)\(stamp)}\nspec: {host: \(host)}\n"
    }

    @Test func routesAreKeptSortedAndFoundByParentService() throws {
        let state = try state("""
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: b, namespace: demo}
        spec: {parentRefs: [{group: "", kind: Service, name: echo}]}
        ---
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: a, namespace: client}
        spec: {parentRefs: [{group: "", kind: Service, name: echo, namespace: demo}, {group: "", kind: Service, name: echo, namespace: demo, port: 80}]}
        ---
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: c, namespace: demo}
        spec: {parentRefs: [{group: "", kind: Service, name: other}]}
        """)
        #expect(state.httpRoutes.map(\.key) == ["client/a", "demo/b", "demo/c"])
        let echo = try #require(state.service(key: "demo/echo"))
        #expect(state.httpRoutes(for: echo).map(\.key) == ["client/a", "demo/b"], "once each, however many parentRefs")
        let other = try #require(state.service(key: "demo/other"))
        #expect(state.httpRoutes(for: other).map(\.key) == ["demo/c"])
    }

    @Test func destinationRuleLookupPrefersClientThenServiceThenRootNamespace() throws {
        let state = try state([
            rule("root", "istio-system", host: "echo.demo.svc.cluster.local"),
            rule("svc-new", "demo", host: "echo", age: "2026-02-01T00:00:00Z"),
            rule("svc-old", "demo", host: "echo", age: "2026-01-01T00:00:00Z"),
            rule("client", "shop", host: "echo.demo.svc.cluster.local"),
            rule("elsewhere", "third", host: "echo.demo.svc.cluster.local"),
        ].joined(separator: "---\n"))
        let echo = try #require(state.service(key: "demo/echo"))
        #expect(state.destinationRules.map(\.key) == ["demo/svc-new", "demo/svc-old", "istio-system/root", "shop/client", "third/elsewhere"])
        #expect(state.destinationRule(for: echo, clientNamespace: "shop")?.key == "shop/client")
        #expect(state.destinationRule(for: echo, clientNamespace: "third")?.key == "third/elsewhere")
        #expect(state.destinationRule(for: echo, clientNamespace: "nobody")?.key == "demo/svc-old", "the oldest in the Service's namespace")
        #expect(state.destinationRule(for: echo)?.key == "demo/svc-old")
        let other = try #require(state.service(key: "demo/other"))
        #expect(state.destinationRule(for: other) == nil)

        let rootOnly = try self.state(rule("root", "istio-system", host: "echo.demo.svc.cluster.local"))
        #expect(rootOnly.destinationRule(for: echo, clientNamespace: "shop")?.key == "istio-system/root")
    }

    @Test func faultsOfEveryVirtualServiceNamingTheService() throws {
        func virtualService(_ name: String, status: Int, age: String) -> String {
            "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: \(name), namespace: demo, creationTimestamp: \"\(age)\"}\n"
                + "spec:\n  hosts: [echo]\n  http:\n  - fault: {abort: {httpStatus: \(status), percentage: {value: 1}}}\n"
        }
        let state = try state(virtualService("a", status: 500, age: "2026-03-01T00:00:00Z") + "---\n"
                              + virtualService("b", status: 503, age: "2026-01-01T00:00:00Z"))
        let echo = try #require(state.service(key: "demo/echo"))
        #expect(state.faults(for: echo).map { $0.abort?.httpStatus } == [503, 500], "oldest VirtualService first")
        #expect(state.faults(for: try #require(state.service(key: "demo/other"))).isEmpty)
    }

    @Test func rateLimitsByServiceAndWorkloadTheWorkloadsOwnFirst() throws {
        let state = try state("""
        apiVersion: ferry.dev/v1alpha1
        kind: RateLimit
        metadata: {name: service, namespace: demo}
        spec: {targetRef: {kind: Service, name: echo}, requestsPerSecond: 100}
        ---
        apiVersion: ferry.dev/v1alpha1
        kind: RateLimit
        metadata: {name: one, namespace: demo}
        spec: {targetRef: {kind: WorkloadEntry, name: echo-2}, requestsPerSecond: 5}
        """)
        #expect(state.rateLimits.map(\.key) == ["demo/one", "demo/service"])
        let echo = try #require(state.service(key: "demo/echo"))
        #expect(state.rateLimit(for: echo)?.key == "demo/service")
        #expect(state.rateLimit(for: try #require(state.workload(key: "demo/echo-1")))?.key == "demo/service")
        #expect(state.rateLimit(for: try #require(state.workload(key: "demo/echo-2")))?.key == "demo/one")
        #expect(state.rateLimit(for: try #require(state.service(key: "demo/other"))) == nil)
    }

    @Test func twoRateLimitsForOneTargetAreAnErrorNamingBoth() throws {
        let limit = { (name: String) in
            "apiVersion: ferry.dev/v1alpha1\nkind: RateLimit\nmetadata: {name: \(name), namespace: demo}\nspec: {targetRef: {kind: Service, name: echo}, requestsPerSecond: 1}\n"
        }
        let error = try #require(throws: ResourceError.self) { try state(limit("a") + "---\n" + limit("b")) }
        #expect(error.file == "t.yaml")
        #expect(error.line == 26, "where the second RateLimit starts")
        #expect(error.message == "RateLimit demo/b targets Service demo/echo, which RateLimit demo/a already limits")
    }
}
