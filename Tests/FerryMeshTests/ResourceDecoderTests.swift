@testable import FerryMesh
import Testing

@Suite struct ResourceDecoderTests {
    func decode(_ yaml: String) throws -> [Resource] {
        try ResourceDecoder.decode(yaml: yaml, file: "test.yaml").map(\.resource)
    }

    func decodeError(_ yaml: String) -> ResourceError? {
        do {
            _ = try decode(yaml)
            return nil
        } catch {
            return error as? ResourceError
        }
    }

    @Test func workloadEntryWithAnnotations() throws {
        let resources = try decode("""
        apiVersion: networking.istio.io/v1
        kind: WorkloadEntry
        metadata:
          name: echo
          namespace: demo
          labels: {app: echo}
          annotations:
            ferry.dev/node: node-b
            ferry.dev/cgroup: /ferry/echo
        spec:
          address: 198.18.0.2
          serviceAccount: echo-sa
          ports: {http: 8080}
          labels: {version: v1}
        """)
        guard case .workload(let workload) = resources.first else { Issue.record("not a workload"); return }
        #expect(workload.key == "demo/echo")
        #expect(workload.node == "node-b")
        #expect(workload.cgroup == "/ferry/echo")
        #expect(workload.addresses == [IPAddress("198.18.0.2")!])
        #expect(workload.labels == ["app": "echo", "version": "v1"])
        #expect(workload.ports == ["http": 8080])
        #expect(workload.identity(trustDomain: "cluster.local").uri == "spiffe://cluster.local/ns/demo/sa/echo-sa")
    }

    @Test func multiDocumentFile() throws {
        let resources = try decode("""
        apiVersion: v1
        kind: Node
        metadata: {name: node-a}
        status:
          addresses:
          - {type: Hostname, address: node-a}
          - {type: InternalIP, address: 198.18.0.1}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: echo, namespace: demo}
        spec:
          clusterIP: 198.19.0.10
          selector: {app: echo}
          ports:
          - {name: http, port: 80, targetPort: http}
        ---
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: ignored}
        """)
        #expect(resources.count == 2)
        guard case .node(let node) = resources[0], case .service(let service) = resources[1] else {
            Issue.record("wrong kinds")
            return
        }
        #expect(node.agentAddress == IPAddress("198.18.0.1"))
        #expect(service.vips == [IPAddress("198.19.0.10")!])
        #expect(service.ports.first?.targetPort == .name("http"))
        #expect(service.ports.first?.isHTTP == true)
    }

    @Test func malformedYAMLNamesTheLine() throws {
        let error = try #require(decodeError("""
        apiVersion: v1
        kind: Node
        metadata:
          name: [unclosed
        """))
        #expect(error.file == "test.yaml")
        #expect(error.line >= 4)
        #expect(error.message.contains("malformed YAML"))
    }

    @Test func unknownFieldIsAnErrorWithItsLine() throws {
        let error = try #require(decodeError("""
        apiVersion: networking.istio.io/v1
        kind: WorkloadEntry
        metadata: {name: echo}
        spec:
          address: 198.18.0.2
          adress: 198.18.0.3
        """))
        #expect(error.line == 6)
        #expect(error.message.contains("unknown field 'adress'"))
    }

    @Test func badAddress() throws {
        let error = try #require(decodeError("""
        apiVersion: networking.istio.io/v1
        kind: WorkloadEntry
        metadata: {name: echo}
        spec:
          address: 198.18.0.300
        """))
        #expect(error.line == 5)
        #expect(error.message.contains("198.18.0.300"))
    }

    /// The data path keys its maps by 16-bit ports: a port past 65535 in any
    /// kind is bad input with its line (it once trapped the agent's reconciler).
    @Test(arguments: [
        "apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\nmetadata: {name: w}\nspec:\n  address: 198.18.0.2\n  ports: {http: 65536}",
        "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  selector: {app: a}\n  ports: [{port: 80, targetPort: 70000}]",
        "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  selector: {app: a}\n  ports: [{port: 80, targetPort: -1}]",
        "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: e}\naddressType: IPv4\nendpoints: []\nports: [{name: http, port: 65536}]",
        "apiVersion: ferry.dev/v1alpha1\nkind: MeshConfig\nmetadata: {name: mesh}\nspec:\n  excludePorts: [0]",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c, ports: [{name: http, containerPort: 99999}]}]",
    ])
    func portsOutOfRange(yaml: String) throws {
        let error = try #require(decodeError(yaml))
        #expect(error.line >= 5, "\(error)")
        #expect(error.message.contains("out of range (1-65535)"), "\(error.message)")
    }

    @Test func wrongAPIVersion() throws {
        let error = try #require(decodeError("""
        apiVersion: networking.istio.io/v2
        kind: WorkloadEntry
        metadata: {name: echo}
        spec: {address: 198.18.0.2}
        """))
        #expect(error.message.contains("apiVersion 'networking.istio.io/v2'"))
    }

    /// A user's Gateway API YAML comes with ReferenceGrants (which GAMMA does
    /// not need, so they are read past) and may hold route kinds Ferry does
    /// not implement (kept, so route status can say so).
    @Test func gatewayAPIKindsFerryNeedsNotOrImplementsNot() throws {
        let resources = try decode("""
        apiVersion: gateway.networking.k8s.io/v1beta1
        kind: ReferenceGrant
        metadata: {name: allow, namespace: store}
        spec:
          from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: shop}]
          to: [{group: "", kind: Service}]
        ---
        apiVersion: gateway.networking.k8s.io/v1alpha2
        kind: TCPRoute
        metadata: {name: db, namespace: store}
        spec:
          parentRefs: [{group: "", kind: Service, name: db, port: 5432}]
          rules: [{backendRefs: [{name: db-v2, port: 5432}]}]
        """)
        #expect(resources == [.unsupportedRoute(UnsupportedRoute(
            kind: "TCPRoute", name: "db", namespace: "store",
            parentRefs: [RouteParentRef(service: ServiceName(name: "db", namespace: "store"), port: 5432)]))])
    }

    @Test func unknownKindInAMeshGroupIsATypo() throws {
        let error = try #require(decodeError("""
        apiVersion: ferry.dev/v1alpha1
        kind: MeshConfg
        metadata: {name: mesh}
        """))
        #expect(error.message.contains("MeshConfg"))
    }

    @Test func meshConfig() throws {
        let resources = try decode("""
        apiVersion: ferry.dev/v1alpha1
        kind: MeshConfig
        metadata: {name: mesh}
        spec:
          trustDomain: example.org
          captureCIDRs: [198.18.0.0/15, "2001:db8::/32"]
          excludePorts: [22]
          failMode: closed
          workloadCertificateTTL: 20s
        """)
        guard case .meshConfig(_, let config) = resources.first else { Issue.record("not a MeshConfig"); return }
        #expect(config.trustDomain == "example.org")
        #expect(config.captureCIDRs.map(\.description) == ["198.18.0.0/15", "2001:db8::/32"])
        #expect(config.excludePorts == [22])
        #expect(config.failMode == .closed)
        #expect(config.workloadCertificateTTL == .seconds(20))
    }

    @Test func meshConfigTracing() throws {
        let resources = try decode("""
        apiVersion: ferry.dev/v1alpha1
        kind: MeshConfig
        metadata: {name: mesh}
        spec:
          tracing: {otlpEndpoint: "http://otel-collector.observability:4318/v1/traces", protocol: http/json, samplingPercent: 10}
        """)
        guard case .meshConfig(_, let config) = resources.first else { Issue.record("not a MeshConfig"); return }
        #expect(config.tracing == TracingSettings(otlpEndpoint: "http://otel-collector.observability:4318/v1/traces",
                                                  encoding: .json, samplingPercent: 10))
        guard case .meshConfig(_, let plain) = try decode("apiVersion: ferry.dev/v1alpha1\nkind: MeshConfig\nmetadata: {name: mesh}\n").first
        else { Issue.record("not a MeshConfig"); return }
        #expect(plain.tracing == nil, "no span export unless asked for")
    }

    @Test(arguments: [
        ("tracing: {protocol: http/json}", "otlpEndpoint is required"),
        ("tracing: {otlpEndpoint: collector:4318}", "not an http:// or https:// URL"),
        ("tracing: {otlpEndpoint: 'http://c:4317', protocol: grpc}", "gRPC is not supported"),
        ("tracing: {otlpEndpoint: 'http://c:4318', samplingPercent: 150}", "from 0 to 100"),
        ("tracing: {otlpEndpoint: 'http://c:4318', sampling: 1}", "sampling"),
    ])
    func meshConfigBadTracing(line: String, message: String) throws {
        let error = try #require(decodeError("""
        apiVersion: ferry.dev/v1alpha1
        kind: MeshConfig
        metadata: {name: mesh}
        spec:
          \(line)
        """))
        #expect(error.line == 5)
        #expect(error.message.contains(message), "\(error.message)")
    }

    @Test func meshConfigBadCIDR() throws {
        let error = try #require(decodeError("""
        apiVersion: ferry.dev/v1alpha1
        kind: MeshConfig
        metadata: {name: mesh}
        spec:
          captureCIDRs:
          - 198.18.0.0/40
        """))
        #expect(error.line == 6)
        #expect(error.message.contains("198.18.0.0/40"))
    }

    @Test func podOptsInWithItsLabel() throws {
        let resources = try decode("""
        apiVersion: v1
        kind: Pod
        metadata:
          name: web-1
          namespace: shop
          uid: 1a2b
          labels: {app: web, ferry.dev/mesh: enabled}
        spec:
          nodeName: node-a
          serviceAccountName: web
          containers:
          - name: web
            image: web:1
            ports: [{name: http, containerPort: 8080}]
        status:
          podIP: 198.18.1.5
        """)
        guard case .workload(let pod) = resources.first else { Issue.record("not a pod"); return }
        #expect(pod.source == .pod)
        #expect(pod.meshEnabled)
        #expect(pod.node == "node-a")
        #expect(pod.ports["http"] == 8080)
        #expect(pod.uid == "1a2b")
    }
}
