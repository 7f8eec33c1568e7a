import FerryIdentity
import FerryKubernetes
import FerryMesh
import Foundation
import Logging
import NIOPosix
import Synchronization
import Testing

/// The CA as `ferryd ca --kubernetes` runs it, against the fake API server:
/// mesh state from the Kubernetes source (every node's pods), agents
/// authenticated by TokenReview. An agent holding only its token and the root
/// gets its node credential, then certificates for its own node's pods only.
@Suite(.serialized, .timeLimit(.minutes(1))) struct CATokenReviewTests {
    @Test func agentWithATokenGetsCertificatesForItsOwnNodesPodsOnly() async throws {
        let server = try await FakeAPIServer.start()
        defer { server.stop() }
        try await server.batch([
            Fixture.meshConfigMap(trustDomain: "example.org"),
            Fixture.namespace("shop", meshed: true),
            Fixture.pod("web-1", node: "node-a", ip: "10.0.1.1", serviceAccount: "web"),
            Fixture.pod("db-1", node: "node-b", ip: "10.0.2.1", labels: ["app": "db"], serviceAccount: "db"),
        ].map(Fixture.apply))
        try await server.configure(tokens: [
            "agent-a": TokenReviewTests.boundToken(pod: "ferry-agent-a", node: "node-a"),
            "agent-b": TokenReviewTests.boundToken(pod: "ferry-agent-b", node: "node-b"),
        ])
        let client = try KubernetesClient(credentials: ClusterCredentials(server: server.url, origin: "fake API server"))
        let latest = Mutex<MeshState?>(nil)
        var options = SourceHarness.testOptions
        options.kinds = KubernetesKind.caKinds(meshConfigNamespace: "ferry-system")
        let source = KubernetesSource(client: client, node: nil, publish: { state in latest.withLock { $0 = state } },
                                      logger: TokenReviewTests.quiet, options: options)
        // Exactly what the CA's RBAC lets it read (Deploy/ca-rbac.yaml).
        #expect(source.watchedKinds == ["Node", "Namespace", "Pod", "WorkloadEntry", "ConfigMap"])
        let running = Task { try await source.run() }
        defer { running.cancel() }
        let first = try #require(try await withTimeout(.seconds(10)) { await source.firstState() })
        #expect(first.config.trustDomain == "example.org", "the CA reads the MeshConfig")

        let authority = try CertificateAuthority.generate(trustDomain: "example.org")
        let reviewer = TokenReviewAuthenticator(client: client, serviceAccount: TokenReviewTests.agent, logger: TokenReviewTests.quiet)
        let ca = try CAServer(authority: authority, state: { latest.withLock { $0 } ?? MeshState.empty }, bearer: reviewer,
                              host: "127.0.0.1", port: 0, group: MultiThreadedEventLoopGroup.singleton, logger: TokenReviewTests.quiet)
        let port = try await ca.start()

        let agent = try RemoteCertificateSource(
            address: "127.0.0.1:\(port)",
            authentication: .bearer(root: MeshRoot(certificate: authority.root), token: { "agent-a" }),
            logger: TokenReviewTests.quiet)
        let node = try await agent.nodeCredential(for: "node-a")
        #expect(node.nodeName == "node-a")

        let web = SpiffeID(trustDomain: "example.org", namespace: "shop", serviceAccount: "web")
        let db = SpiffeID(trustDomain: "example.org", namespace: "shop", serviceAccount: "db")
        let chain = try await agent.sign(csrPEM: WorkloadCSR(identity: web).pem, identity: web)
        #expect(try chain[0].uriSANs == [web.uri])
        let refused = await #expect(throws: SigningRefused.self) {
            try await agent.sign(csrPEM: WorkloadCSR(identity: db).pem, identity: db)
        }
        #expect(refused?.reason == "node node-a has no workload with identity \(db.uri)")
        let notItsNode = await #expect(throws: SigningRefused.self) { try await agent.nodeCredential(for: "node-b") }
        #expect(notItsNode?.reason.hasPrefix("node node-a may have only its own node credential") == true)

        // A pod scheduled later is certified once the watch brings it in.
        try await server.apply(Fixture.pod("db-2", node: "node-a", ip: "10.0.1.2", labels: ["app": "db"], serviceAccount: "db"))
        try await waitUntil("db-2 in the CA's state") { latest.withLock { $0?.workloads.contains { $0.name == "db-2" } } ?? false }
        _ = try await agent.sign(csrPEM: WorkloadCSR(identity: db).pem, identity: db)

        running.cancel()
        _ = try? await running.value
        try await client.shutdown()
    }
}
