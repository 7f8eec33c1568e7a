@testable import FerryKubernetes
import FerryMesh
import Foundation
import Testing

/// A random sequence of changes, cut by compactions, dropped watches and server
/// restarts: afterwards the published state must hold exactly the server's objects.
@Suite(.serialized) struct ConvergenceTests {
    @Test func randomChangesWithRestartsAndCompactionsConverge() async throws {
        let seed = ProcessInfo.processInfo.environment["FERRY_TEST_SEED"].flatMap { UInt64($0) } ?? UInt64.random(in: 1...UInt64.max)
        var random = SplitMix64(seed: seed)
        let server = try await FakeAPIServer.start()
        defer { server.stop() }
        try await server.batch(KubernetesSourceTests.cluster.map(Fixture.apply))
        try await server.configure(bookmarkInterval: 0.2)
        let harness = try SourceHarness(server: server)
        harness.start()
        do {
            try await harness.waitForState("the first state") { _ in true }
            for step in 0..<80 {
                try await server.apply(randomChange(&random))
                if step % 3 == 0, let removal = randomRemoval(&random) { try await server.batch([removal]) }
                if step % 10 == 9 {
                    switch Int.random(in: 0..<5, using: &random) {
                    case 0: try await server.compact()
                    case 1: try await server.dropWatches()
                    case 2: try await server.restart()
                    default:
                        // Changes no open watch sees, then history they cannot resume from.
                        let unseen = (0..<4).compactMap { _ in randomRemoval(&random) } + (0..<2).map { _ in Fixture.apply(randomChange(&random)) }
                        try await server.batch(unseen + [["op": "compact"], ["op": "drop"]])
                    }
                }
                if Bool.random(using: &random) { try await Task.sleep(for: .milliseconds(Int.random(in: 0...25, using: &random))) }
            }
            let expected = try await expectedResources(server)
            do {
                try await waitUntil("the state to match the server (seed \(seed))", timeout: .seconds(20)) {
                    harness.latest.map { Set($0.resources.map(\.resource)) == expected } ?? false
                }
            } catch {
                let actual = Set(harness.latest?.resources.map(\.resource) ?? [])
                Issue.record("""
                    seed \(seed): missing \(expected.subtracting(actual).map(\.key.description).sorted()), \
                    unexpected \(actual.subtracting(expected).map(\.key.description).sorted())
                    """)
                throw error
            }
            let state = try #require(harness.latest)
            let oracle = try MeshState(resources: expected.map { LocatedResource(resource: $0, file: "server", line: 0) }, generation: 0)
            #expect(state.workloadKeys == oracle.workloadKeys)
            #expect(state.workloads.map(\.addresses) == oracle.workloads.map(\.addresses))
            #expect(state.services.map(\.key) == oracle.services.map(\.key))
            #expect(harness.source.problems.isEmpty)
        } catch {
            try? await harness.stop()
            throw error
        }
        try await harness.stop()
    }

    static let namespaces = ["shop", "blog"]

    func randomChange(_ random: inout SplitMix64) -> JSONObject {
        let namespace = Self.namespaces.randomElement(using: &random)!
        switch Int.random(in: 0..<20, using: &random) {
        case 0..<8:
            let index = Int.random(in: 0..<10, using: &random)
            let node = Bool.random(using: &random) ? "node-a" : "node-b"
            return Fixture.pod("p\(index)", namespace: namespace, node: node,
                               ip: "10.\(node == "node-a" ? 1 : 2).\(Int.random(in: 0..<4, using: &random)).\(index)",
                               labels: ["app": ["web", "api"].randomElement(using: &random)!])
        case 8..<10:
            let index = Int.random(in: 0..<4, using: &random)
            return Fixture.service("s\(index)", namespace: namespace, clusterIP: "10.96.\(namespace.count).\(index)",
                                   selector: Bool.random(using: &random) ? ["app": "web"] : nil)
        case 10..<12:
            return Fixture.namespace(namespace, meshed: Bool.random(using: &random))
        case 12..<15:
            let endpoints = (0..<Int.random(in: 0...3, using: &random)).map { _ in
                let index = Int.random(in: 0..<10, using: &random)
                return ("10.2.9.\(index)", "node-b", "p\(index)")
            }
            return Fixture.endpointSlice("s\(Int.random(in: 0..<4, using: &random))-x", namespace: namespace,
                                         service: "s\(Int.random(in: 0..<4, using: &random))", endpoints: endpoints)
        case 15..<17:
            return Fixture.authorizationPolicy("ap\(Int.random(in: 0..<3, using: &random))", namespace: namespace,
                                               action: ["ALLOW", "DENY"].randomElement(using: &random)!)
        case 17..<19:
            return Fixture.peerAuthentication("pa", namespace: namespace,
                                              mode: ["STRICT", "PERMISSIVE"].randomElement(using: &random)!)
        default:
            return Fixture.meshConfigMap(trustDomain: ["cluster.local", "ferry.test"].randomElement(using: &random)!)
        }
    }

    func randomRemoval(_ random: inout SplitMix64) -> JSONObject? {
        let namespace = Self.namespaces.randomElement(using: &random)!
        switch Int.random(in: 0..<5, using: &random) {
        case 0, 1: return Fixture.delete("Pod", namespace, "p\(Int.random(in: 0..<10, using: &random))")
        case 2: return Fixture.delete("Service", namespace, "s\(Int.random(in: 0..<4, using: &random))")
        case 3: return Fixture.delete("EndpointSlice", namespace, "s\(Int.random(in: 0..<4, using: &random))-x")
        default: return Fixture.delete("AuthorizationPolicy", namespace, "ap\(Int.random(in: 0..<3, using: &random))")
        }
    }

    /// The server's objects, read by the same kinds a node-a agent watches.
    func expectedResources(_ server: FakeAPIServer) async throws -> Set<Resource> {
        let kinds = KubernetesKind.meshKinds(node: "node-a", meshConfigNamespace: "ferry-system").filter(\.isDecodable)
        var resources: Set<Resource> = []
        for json in try await server.objects().items {
            let object = try APIObject(json: json)
            guard let kind = kinds.first(where: { $0.name == object.kind }) else { continue }
            if object.kind == "Pod", WireJSON.string(WireJSON.child(object.node, "spec"), "nodeName") != "node-a" { continue }
            if let resource = try kind.convert(object) { resources.insert(resource) }
        }
        return resources
    }
}
