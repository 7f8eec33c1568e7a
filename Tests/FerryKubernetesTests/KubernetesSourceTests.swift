import FerryKubernetes
import FerryMesh
import Testing

/// The Kubernetes source against the fake API server on 127.0.0.1.
@Suite(.serialized) struct KubernetesSourceTests {
    static let cluster: [JSONObject] = [
        Fixture.node("node-a", ip: "192.0.2.1"),
        Fixture.node("node-b", ip: "192.0.2.2"),
        Fixture.namespace("shop", meshed: true),
        Fixture.service("web", clusterIP: "10.96.0.20"),
    ]

    /// Seeds the server, runs a source for node-a, and always stops both.
    func withSource(seed: [JSONObject], options: KubernetesSource.Options = SourceHarness.testOptions,
                    _ body: (SourceHarness) async throws -> Void) async throws {
        let server = try await FakeAPIServer.start()
        defer { server.stop() }
        if !seed.isEmpty { try await server.batch(seed.map(Fixture.apply)) }
        let harness = try SourceHarness(server: server, options: options)
        harness.start()
        do {
            try await body(harness)
        } catch {
            try? await harness.stop()
            throw error
        }
        try await harness.stop()
    }

    @Test func initialListIsPaginatedAndHoldsOnlyThisNodesPods() async throws {
        let pods = (1...5).map { Fixture.pod("web-\($0)", ip: "10.0.1.\($0)") }
            + [Fixture.pod("far-1", node: "node-b", ip: "10.0.2.1"), Fixture.pod("far-2", node: "node-b", ip: "10.0.2.2")]
        try await withSource(seed: Self.cluster + pods) { harness in
            let source = harness.source
            let state = try #require(try await withTimeout(.seconds(10)) { await source.firstState() })
            #expect(state.workloadKeys == (1...5).map { "shop/web-\($0)" })
            #expect(state.nodes["node-b"]?.agentAddress == IPAddress("192.0.2.2"))
            #expect(state.generation == 1)
            // Five pods of node-a in pages of two: the first request and two continues.
            let stats = try await harness.server.stats("pods")
            #expect(stats["list"] == 3)
            #expect(stats["continue"] == 2)
            #expect(harness.status("Pod").lists == 1)
            // Every kind FerryMesh decodes is watched, the traffic kinds included.
            #expect(harness.source.watchedKinds.contains("HTTPRoute"))
            #expect(harness.source.watchedKinds.contains("RateLimit"))
            try await Task.sleep(for: .milliseconds(300))
            #expect(harness.states.count == 1, "nothing changed, so nothing more is published")
        }
    }

    @Test func watchedChangesReachTheState() async throws {
        try await withSource(seed: Self.cluster + [Fixture.pod("web-1", ip: "10.0.1.1")]) { harness in
            try await harness.waitForState("web-1") { $0.workloadKeys == ["shop/web-1"] }

            try await harness.server.apply(Fixture.pod("web-2", ip: "10.0.1.2"))
            try await harness.waitForState("web-2 ADDED") { $0.workloadKeys == ["shop/web-1", "shop/web-2"] }

            try await harness.server.apply(Fixture.pod("web-2", ip: "10.0.1.2", labels: ["app": "web", "version": "v2"]))
            let modified = try await harness.waitForState("web-2 MODIFIED") { $0.workload(key: "shop/web-2")?.labels["version"] == "v2" }
            let service = try #require(modified.service(key: "shop/web"))
            #expect(modified.endpoints(of: service).map(\.key) == ["shop/web-1", "shop/web-2"])

            try await harness.server.delete(kind: "Pod", namespace: "shop", name: "web-1")
            try await harness.waitForState("web-1 DELETED") { $0.workloadKeys == ["shop/web-2"] }

            try await harness.server.apply(Fixture.meshConfigMap(trustDomain: "ferry.test"))
            try await harness.waitForState("MeshConfig from the ConfigMap") { $0.config.trustDomain == "ferry.test" }
            #expect(harness.status("Pod").lists == 1, "changes arrived by watch, without relisting")
        }
    }

    @Test func aBadObjectIsSkippedAndABadUpdateKeepsTheLastGoodVersion() async throws {
        try await withSource(seed: Self.cluster + [Fixture.authorizationPolicy("deny-bad")]) { harness in
            try await harness.waitForState("the policy") { $0.authorizationPolicies.map(\.key) == ["shop/deny-bad"] }

            try await harness.server.apply(Fixture.authorizationPolicy("deny-bad", action: "CUSTOM"))
            try await harness.server.apply(Fixture.authorizationPolicy("new-bad", action: "CUSTOM"))
            try await harness.server.apply(Fixture.pod("web-1", ip: "10.0.1.1"))
            let state = try await harness.waitForState("the pod after the bad policies") { $0.workloadKeys == ["shop/web-1"] }
            #expect(state.authorizationPolicies.map(\.key) == ["shop/deny-bad"])
            #expect(state.authorizationPolicies.first?.action == .deny)
            // Kinds are watched on separate streams, so the policies' events may
            // arrive after the pod's: wait for both problems.
            var problems: [String] = []
            for _ in 0..<100 {
                problems = harness.source.problems.map(\.description)
                if problems.count >= 2 { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(problems.count == 2)
            #expect(problems.allSatisfy { $0.contains("CUSTOM is not supported") })
            #expect(problems.contains { $0.hasPrefix("AuthorizationPolicy shop/new-bad") })

            try await harness.server.delete(kind: "AuthorizationPolicy", namespace: "shop", name: "deny-bad")
            try await harness.waitForState("the policy deleted") { $0.authorizationPolicies.isEmpty }
        }
    }

    @Test func bookmarksAdvanceTheResourceVersionSoACompactionNeedsNoRelist() async throws {
        try await withSource(seed: Self.cluster + [Fixture.pod("web-1", ip: "10.0.1.1")]) { harness in
            try await harness.server.configure(bookmarkInterval: 0.1)
            try await harness.waitForState("web-1") { $0.workloadKeys == ["shop/web-1"] }
            // Writes to other kinds move the global version past the last pod event.
            var version = 0
            for index in 1...4 {
                version = try await harness.server.apply(Fixture.service("svc-\(index)", clusterIP: "10.96.1.\(index)"))
            }
            try await waitUntil("a pod bookmark at version \(version)") {
                harness.status("Pod").resourceVersion == "\(version)"
            }
            #expect(harness.status("Pod").bookmarks > 0)
            try await harness.server.batch([["op": "compact"], ["op": "drop"]])
            try await harness.server.apply(Fixture.pod("web-2", ip: "10.0.1.2"))
            try await harness.waitForState("web-2 after the compaction") { $0.workloadKeys.contains("shop/web-2") }
            #expect(harness.status("Pod").gone == 0)
            #expect(harness.status("Pod").lists == 1)
        }
    }

    /// Changes made while the watch is cut, then history compacted: the source
    /// can only catch up by relisting, and must end with exactly the server's pods.
    @Test(arguments: ["event", "status"])
    func goneRelistsWithoutLosingOrDuplicating(watchGone: String) async throws {
        let pods = (1...3).map { Fixture.pod("web-\($0)", ip: "10.0.1.\($0)") }
        try await withSource(seed: Self.cluster + pods) { harness in
            try await harness.server.configure(bookmarkInterval: 0, watchGone: watchGone)
            try await harness.waitForState("three pods") { $0.workloads.count == 3 }
            try await harness.server.apply(Fixture.service("other", clusterIP: "10.96.0.30"))
            try await harness.waitForState("the other service") { $0.service(key: "shop/other") != nil }

            try await harness.server.batch([
                Fixture.apply(Fixture.pod("web-4", ip: "10.0.1.4")),
                Fixture.delete("Pod", "shop", "web-2"),
                Fixture.apply(Fixture.pod("web-3", ip: "10.0.1.33")),
                ["op": "compact"], ["op": "drop"],
            ])
            let state = try await harness.waitForState("the relisted pods") {
                $0.workloadKeys == ["shop/web-1", "shop/web-3", "shop/web-4"]
            }
            #expect(state.workload(key: "shop/web-3")?.addresses == [IPAddress("10.0.1.33")!])
            #expect(harness.status("Pod").gone >= 1)
            #expect(harness.status("Pod").lists >= 2)
            #expect(try await harness.server.stats("pods")["gone"] ?? 0 >= 1)
        }
    }

    @Test func survivesDroppedConnectionsWatchTimeoutsAndServerRestarts() async throws {
        var options = SourceHarness.testOptions
        options.watchTimeoutSeconds = 1...1
        try await withSource(seed: Self.cluster + [Fixture.pod("web-1", ip: "10.0.1.1")], options: options) { harness in
            try await harness.waitForState("web-1") { $0.workloadKeys == ["shop/web-1"] }

            // Watches that end by their timeout resume where they were.
            try await waitUntil("three pod watches") { harness.status("Pod").watchesStarted >= 3 }
            #expect(harness.status("Pod").lists == 1)

            try await harness.server.dropWatches()
            try await harness.server.apply(Fixture.pod("web-2", ip: "10.0.1.2"))
            try await harness.waitForState("web-2 after the drop") { $0.workloadKeys.contains("shop/web-2") }

            // Killed with watches open: they break mid-stream, reconnects are refused
            // until it is back; it restarts with its objects but without history.
            harness.server.kill()
            try await Task.sleep(for: .milliseconds(200))
            try await harness.server.restart()
            try await harness.server.apply(Fixture.pod("web-3", ip: "10.0.1.3"))
            try await harness.server.delete(kind: "Pod", namespace: "shop", name: "web-1")
            try await harness.waitForState("web-3 after the restart") { $0.workloadKeys == ["shop/web-2", "shop/web-3"] }
        }
    }

    @Test func collectionsThatAreNotServedCountAsEmptyUntilTheyAre() async throws {
        let server = try await FakeAPIServer.start()
        defer { server.stop() }
        try await server.configure(unserved: ["authorizationpolicies"])
        try await server.batch((Self.cluster + [Fixture.authorizationPolicy("deny-bad")]).map(Fixture.apply))
        let harness = try SourceHarness(server: server)
        harness.start()
        do {
            try await harness.waitForState("a state without policies") { $0.authorizationPolicies.isEmpty && $0.services.count == 1 }
            #expect(harness.status("AuthorizationPolicy").served == false)
            // The CRD gets installed: the next retry lists it.
            try await server.configure(unserved: [])
            try await harness.waitForState("the policy once served") { $0.authorizationPolicies.count == 1 }
        } catch {
            try? await harness.stop()
            throw error
        }
        try await harness.stop()
    }
}
