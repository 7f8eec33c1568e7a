import FerryMesh
import FerryPolicy
import Testing

@Suite struct OutboundRouterTests {
    let state: MeshState

    init() throws {
        state = try MeshState(resources: ResourceDecoder.decode(yaml: """
        apiVersion: networking.istio.io/v1
        kind: WorkloadEntry
        metadata: {name: echo-1, namespace: demo, labels: {app: echo}}
        spec: {address: 198.18.0.2, ports: {http: 8080}}
        ---
        apiVersion: networking.istio.io/v1
        kind: WorkloadEntry
        metadata: {name: echo-2, namespace: demo, labels: {app: echo}}
        spec: {address: 198.18.0.3, ports: {http: 9090}}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: echo, namespace: demo}
        spec:
          clusterIP: 198.19.0.10
          selector: {app: echo}
          ports: [{name: http, port: 80, targetPort: http}]
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: empty, namespace: demo}
        spec:
          clusterIP: 198.19.0.11
          selector: {app: nothing}
          ports: [{port: 80}]
        """, file: "t.yaml"), generation: 1)
    }

    @Test func vipRoundRobinsOverEndpointsWithNamedTargetPorts() {
        let router = OutboundRouter()
        let balancer = LoadBalancer()
        let vip = IPEndpoint("198.19.0.10:80")!
        var targets: [String] = []
        for _ in 0..<4 {
            guard case .endpoint(_, let target, let service) = router.route(vip, in: state, balancer: balancer) else {
                Issue.record("not an endpoint")
                return
            }
            #expect(service?.name == "echo")
            targets.append(target.description)
        }
        #expect(targets == ["198.18.0.2:8080", "198.18.0.3:9090", "198.18.0.2:8080", "198.18.0.3:9090"])
    }

    @Test func workloadAddressIsAMeshDestination() {
        let decision = OutboundRouter().route(IPEndpoint("198.18.0.3:9090")!, in: state, balancer: LoadBalancer())
        guard case .endpoint(let workload, let target, nil) = decision else { Issue.record("\(decision)"); return }
        #expect(workload.name == "echo-2")
        #expect(target.port == 9090)
    }

    @Test func everythingElsePassesThrough() {
        let outside = IPEndpoint("198.18.9.9:443")!
        #expect(OutboundRouter().route(outside, in: state, balancer: LoadBalancer()) == .passthrough(outside))
        // A VIP port the Service does not declare is not the Service's.
        let otherPort = IPEndpoint("198.19.0.10:81")!
        #expect(OutboundRouter().route(otherPort, in: state, balancer: LoadBalancer()) == .passthrough(otherPort))
    }

    @Test func serviceWithoutEndpoints() {
        let decision = OutboundRouter().route(IPEndpoint("198.19.0.11:80")!, in: state, balancer: LoadBalancer())
        guard case .noHealthyEndpoint(let service) = decision else { Issue.record("\(decision)"); return }
        #expect(service.name == "empty")
    }
}
