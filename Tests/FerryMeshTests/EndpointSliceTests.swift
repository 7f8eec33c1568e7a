import FerryMesh
import Testing

@Suite struct EndpointSliceTests {
    func state(_ yaml: String) throws -> MeshState {
        try MeshState(resources: ResourceDecoder.decode(yaml: yaml, file: "t.yaml"), generation: 1)
    }

    /// Namespace `shop` is meshed; web-1 runs here (a Pod), web-2 and web-3 on
    /// node-b are known only from the Service's slices (one per address family).
    static let shop = """
    apiVersion: v1
    kind: Namespace
    metadata: {name: shop, labels: {ferry.dev/mesh: enabled}}
    ---
    apiVersion: v1
    kind: Pod
    metadata: {name: web-1, namespace: shop, labels: {app: web}}
    spec:
      nodeName: node-a
      serviceAccountName: web
      containers: [{name: web, ports: [{name: http-web, containerPort: 8080}]}]
    status: {podIP: 10.0.1.1}
    ---
    apiVersion: v1
    kind: Service
    metadata: {name: web, namespace: shop}
    spec:
      clusterIP: 10.96.0.20
      selector: {app: web}
      ports: [{name: http, port: 80, targetPort: http-web}]
    ---
    apiVersion: discovery.k8s.io/v1
    kind: EndpointSlice
    metadata: {name: web-v4, namespace: shop, labels: {kubernetes.io/service-name: web}}
    addressType: IPv4
    ports: [{name: http, port: 8080, protocol: TCP}]
    endpoints:
    - addresses: [10.0.1.1]
      nodeName: node-a
      targetRef: {kind: Pod, namespace: shop, name: web-1, uid: u1}
    - addresses: [10.0.2.2]
      nodeName: node-b
      conditions: {ready: true}
      targetRef: {kind: Pod, namespace: shop, name: web-2, uid: u2}
    - addresses: [10.0.2.3]
      nodeName: node-b
      conditions: {ready: false, terminating: true}
      targetRef: {kind: Pod, namespace: shop, name: web-3, uid: u3}
    ---
    apiVersion: discovery.k8s.io/v1
    kind: EndpointSlice
    metadata: {name: web-v6, namespace: shop, labels: {kubernetes.io/service-name: web}}
    addressType: IPv6
    ports: [{name: http, port: 8080}]
    endpoints:
    - addresses: ["fd00::2:2"]
      nodeName: node-b
      targetRef: {kind: Pod, namespace: shop, name: web-2, uid: u2}
    """

    @Test func decodesTheFieldsFerryUses() throws {
        let resources = try ResourceDecoder.decode(yaml: Self.shop, file: "t.yaml").map(\.resource)
        let slices = resources.compactMap { resource -> EndpointSlice? in
            if case .endpointSlice(let slice) = resource { return slice }
            return nil
        }
        let slice = try #require(slices.first)
        #expect(slice.key == "shop/web-v4")
        #expect(slice.serviceName == "web")
        #expect(slice.ports == [EndpointSlice.Port(name: "http", port: 8080)])
        #expect(slice.endpoints.map(\.ready) == [true, true, false])
        #expect(slice.endpoints[1] == EndpointSlice.Endpoint(
            addresses: [IPAddress("10.0.2.2")!], nodeName: "node-b",
            targetRef: .init(kind: "Pod", namespace: "shop", name: "web-2", uid: "u2"), ready: true))
    }

    @Test func remotePodsBecomeWorkloadsWithoutIdentity() throws {
        let state = try state(Self.shop)
        #expect(state.workloads.map(\.key) == ["shop/web-1", "shop/web-2"])
        let remote = try #require(state.workload(key: "shop/web-2"))
        #expect(remote.source == .endpointSlice)
        #expect(remote.node == "node-b")
        #expect(remote.uid == "u2")
        #expect(remote.addresses == [IPAddress("10.0.2.2")!, IPAddress("fd00::2:2")!])
        #expect(remote.knownIdentity(trustDomain: "cluster.local") == nil)
        // The Service targets the container port by name; the slice resolved it.
        #expect(remote.ports == ["http-web": 8080])
        let local = try #require(state.workload(key: "shop/web-1"))
        #expect(local.source == .pod)
        #expect(local.knownIdentity(trustDomain: "cluster.local")?.uri == "spiffe://cluster.local/ns/shop/sa/web")
    }

    @Test func serviceEndpointsJoinSelectorAndSlices() throws {
        let state = try state(Self.shop)
        let service = try #require(state.service(vip: IPAddress("10.96.0.20")!))
        #expect(state.endpoints(of: service).map(\.key) == ["shop/web-1", "shop/web-2"])
        let remote = try #require(state.workload(key: "shop/web-2"))
        #expect(service.port(80)?.targetPort(on: remote) == 8080)
        #expect(state.services(selecting: remote).map(\.key) == ["shop/web"])
    }

    @Test func anAgentServesOnlyWorkloadsItKnowsInFull() throws {
        let state = try state(Self.shop)
        #expect(state.workloads(onNode: "node-a").map(\.key) == ["shop/web-1"])
        #expect(state.workloads(onNode: "node-b").isEmpty)
    }

    @Test func endpointsOutsideMeshedNamespacesStayOut() throws {
        let state = try state(Self.shop.replacingOccurrences(of: "labels: {ferry.dev/mesh: enabled}", with: "labels: {}"))
        #expect(state.workloads.isEmpty)
        let service = try #require(state.service(vip: IPAddress("10.96.0.20")!))
        #expect(state.endpoints(of: service).isEmpty)
    }

    @Test func aKnownPodThatIsNotMeshedIsNotMeshedThroughItsSlice() throws {
        let state = try state("""
        apiVersion: v1
        kind: Pod
        metadata: {name: db-1, namespace: data}
        spec: {nodeName: node-a}
        status: {podIP: 10.0.3.1}
        ---
        apiVersion: v1
        kind: Namespace
        metadata: {name: data}
        ---
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata: {name: db-x, namespace: data, labels: {kubernetes.io/service-name: db}}
        addressType: IPv4
        endpoints: [{addresses: [10.0.3.1], nodeName: node-a, targetRef: {kind: Pod, name: db-1}}]
        """)
        #expect(state.workloads.isEmpty)
    }

    @Test func selectorlessServicesGetTheirEndpointsFromSlices() throws {
        let state = try state("""
        apiVersion: v1
        kind: Namespace
        metadata: {name: ext, labels: {ferry.dev/mesh: enabled}}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: legacy, namespace: ext}
        spec: {clusterIP: 10.96.0.30, ports: [{port: 5432}]}
        ---
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata: {name: legacy-1, namespace: ext, labels: {kubernetes.io/service-name: legacy}}
        addressType: IPv4
        ports: [{port: 5432}]
        endpoints: [{addresses: [192.0.2.7]}]
        ---
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata: {name: legacy-dns, namespace: ext, labels: {kubernetes.io/service-name: legacy}}
        addressType: FQDN
        endpoints: [{addresses: [db.example.com]}]
        """)
        let service = try #require(state.service(vip: IPAddress("10.96.0.30")!))
        #expect(state.endpoints(of: service).map(\.key) == ["ext/legacy-1@192.0.2.7"])
        #expect(state.endpointSlices.map(\.key) == ["ext/legacy-1", "ext/legacy-dns"])
    }

    @Test func badAddressesAreReportedWithTheirPath() throws {
        #expect(throws: ResourceError.self) {
            try ResourceDecoder.decode(yaml: """
            apiVersion: discovery.k8s.io/v1
            kind: EndpointSlice
            metadata: {name: s, namespace: n}
            addressType: IPv4
            endpoints: [{addresses: [not-an-ip]}]
            """, file: "t.yaml")
        }
    }
}
