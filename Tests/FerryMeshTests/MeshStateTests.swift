import FerryMesh
import Foundation
import Testing

@Suite struct MeshStateTests {
    static let base = """
    apiVersion: networking.istio.io/v1
    kind: WorkloadEntry
    metadata: {name: echo-1, namespace: demo, labels: {app: echo}, annotations: {ferry.dev/node: b}}
    spec: {address: 198.18.0.2, ports: {http: 8080}}
    ---
    apiVersion: networking.istio.io/v1
    kind: WorkloadEntry
    metadata: {name: echo-2, namespace: demo, labels: {app: echo}, annotations: {ferry.dev/node: c}}
    spec: {address: 198.18.0.3, ports: {http: 8080}}
    ---
    apiVersion: networking.istio.io/v1
    kind: WorkloadEntry
    metadata: {name: other, namespace: elsewhere, labels: {app: echo}}
    spec: {address: 198.18.0.4}
    ---
    apiVersion: v1
    kind: Service
    metadata: {name: echo, namespace: demo}
    spec:
      clusterIP: 198.19.0.10
      selector: {app: echo}
      ports: [{name: http, port: 80, targetPort: http}]
    """

    func state(_ yaml: String) throws -> MeshState {
        try MeshState(resources: ResourceDecoder.decode(yaml: yaml, file: "t.yaml"), generation: 1)
    }

    @Test func serviceEndpointsAreSelectedInTheSameNamespace() throws {
        let state = try state(Self.base)
        let service = try #require(state.service(vip: IPAddress("198.19.0.10")!))
        #expect(state.endpoints(of: service).map(\.key) == ["demo/echo-1", "demo/echo-2"])
        #expect(state.workloads(onNode: "b").map(\.key) == ["demo/echo-1"])
    }

    @Test func servicesSelectingAWorkloadComeInKeyOrderFromItsNamespaceOnly() throws {
        let state = try state(Self.base + """

        ---
        apiVersion: v1
        kind: Service
        metadata: {name: all-echo, namespace: demo}
        spec: {clusterIP: 198.19.0.11, selector: {app: echo}, ports: [{port: 81}]}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: echo, namespace: elsewhere}
        spec: {clusterIP: 198.19.0.12, selector: {app: echo}, ports: [{port: 80}]}
        """)
        let echo1 = try #require(state.workload(key: "demo/echo-1"))
        let other = try #require(state.workload(key: "elsewhere/other"))
        #expect(state.services(selecting: echo1).map(\.key) == ["demo/all-echo", "demo/echo"])
        #expect(state.services(selecting: other).map(\.key) == ["elsewhere/echo"])
        #expect(state.service(key: "demo/all-echo")?.vips == [IPAddress("198.19.0.11")!])
        #expect(state.service(key: "demo/none") == nil)
        var stranger = echo1
        stranger.name = "not-in-the-state"
        #expect(state.services(selecting: stranger).isEmpty)
    }

    @Test func duplicatesAreRejected() throws {
        #expect(throws: ResourceError.self) {
            try state(Self.base + "\n---\n" + Self.base.components(separatedBy: "---")[0])
        }
    }

    @Test func podsNeedTheMeshLabelOnThemselvesOrTheirNamespace() throws {
        let state = try state("""
        apiVersion: v1
        kind: Namespace
        metadata: {name: shop, labels: {ferry.dev/mesh: enabled}}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: a, namespace: shop}
        spec: {nodeName: n}
        status: {podIP: 198.18.1.1}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: b, namespace: other}
        spec: {nodeName: n}
        status: {podIP: 198.18.1.2}
        """)
        #expect(state.workloads.map(\.key) == ["shop/a"])
    }
}

@Suite struct FileSourceTests {
    let directory: String

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-filesource-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    func write(_ name: String, _ text: String) throws {
        try text.write(toFile: directory + "/" + name, atomically: true, encoding: .utf8)
    }

    @Test func aBadFileKeepsItsLastGoodContents() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try write("a.yaml", """
        apiVersion: networking.istio.io/v1
        kind: WorkloadEntry
        metadata: {name: a}
        spec: {address: 198.18.0.2}
        """)
        try write("b.yaml", """
        apiVersion: networking.istio.io/v1
        kind: WorkloadEntry
        metadata: {name: b}
        spec: {address: 198.18.0.3}
        """)
        var source = FileSource(directory: directory)
        let first = source.reload()
        #expect(first.errors.isEmpty)
        #expect(first.newState?.workloads.count == 2)

        try write("a.yaml", "apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\nmetadata: {name: a}\nspec: {address: nope}\n")
        let second = source.reload()
        #expect(second.errors.count == 1)
        #expect(second.errors.first?.file.hasSuffix("a.yaml") == true)
        #expect(second.errors.first?.line == 4)
        #expect(source.state.workloads.map(\.name) == ["a", "b"])

        try FileManager.default.removeItem(atPath: directory + "/b.yaml")
        let third = source.reload()
        #expect(third.newState?.workloads.map(\.name) == ["a"])
        #expect(source.reload().changed == false)
    }
}
