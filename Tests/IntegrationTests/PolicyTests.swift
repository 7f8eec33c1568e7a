import FerryProxy
import Foundation
import Testing

/// Issue 4: AuthorizationPolicy and PeerAuthentication enforced between two real
/// nodes, inbound plaintext capture with sk_lookup, and live re-checks.
@Suite(.serialized, .enabled(if: Privileges.isRoot, Privileges.skipReason))
struct PolicyTests {
    /// The mesh of MeshTests plus a host outside the mesh (198.18.0.3).
    struct Setup {
        let mesh: TestMesh
        let outsider: TestHost
        var a: TestHost { mesh.nodes[0] }
        var b: TestHost { mesh.nodes[1] }
        var agentB: TestAgent { mesh.agents[1] }

        init(_ name: String) throws {
            mesh = try TestMesh(name)
            do {
                outsider = try mesh.lab.addHost("out")
                try mesh.addWorkload("client", on: mesh.nodes[0])
                try mesh.addWorkload("echo", on: mesh.nodes[1], ports: ["tcp": 9000, "alt": 9001])
                try mesh.addService("echo", vip: "198.19.0.10", port: 80, targetPort: 9000)
                for port in [9000, 9001] {
                    let sink = try mesh.nodes[1].spawn("sink\(port)", in: "echo",
                                                       ["python3", Paths.testTool, "sink", "--listen", "[::]:\(port)"])
                    guard sink.waitForOutput("listening") else { throw TestLab.LabError("sink did not start") }
                }
                try mesh.start()
                guard mesh.waitForCertificates() else { throw TestLab.LabError("no certificates") }
            } catch {
                mesh.tearDown()
                throw error
            }
        }

        /// Writes (or with nil removes) the policy file and waits until node b applied it.
        func policy(_ yaml: String?) throws {
            let path = mesh.configDirectory + "/policy.yaml"
            if let yaml {
                try yaml.write(toFile: path, atomically: true, encoding: .utf8)
            } else {
                try? FileManager.default.removeItem(atPath: path)
            }
            let generation = try agentB.ctlJSON(["status"], as: AdminAPI.Status.self).configGeneration
            _ = poll(timeout: 5) { ((try? agentB.ctlJSON(["status"], as: AdminAPI.Status.self))?.configGeneration ?? 0) > generation }
        }

        func send(to target: String = "198.19.0.10:80", from host: TestHost? = nil, cgroup: String = "client") throws -> Shell.Result {
            try (host ?? a).run(in: cgroup, ["python3", Paths.testTool, "send", "--to", target, "--bytes", "100"], timeout: 30)
        }

        func metrics(_ host: TestHost) throws -> String { try host.run(in: "ctl", ["curl", "-s", "localhost:15020/metrics"]).stdout }
    }

    static let client = "cluster.local/ns/demo/sa/client"

    @Test func denyByPrincipalNamespacePortAndIPBlock() throws {
        let setup = try Setup("authz")
        defer { setup.mesh.tearDown() }
        #expect(try setup.send().ok, "allowed with no policy")

        let cases: [(name: String, spec: String, target: String)] = [
            ("deny-principal", "action: DENY\n  rules: [{from: [{source: {principals: [\"\(Self.client)\"]}}]}]", "198.19.0.10:80"),
            ("deny-namespace", "action: DENY\n  rules: [{from: [{source: {namespaces: [demo]}}]}]", "198.19.0.10:80"),
            ("deny-ipblock", "action: DENY\n  rules: [{from: [{source: {ipBlocks: [198.18.0.1/32]}}]}]", "198.19.0.10:80"),
            ("allow-other-port", "action: ALLOW\n  rules: [{to: [{operation: {ports: [\"9001\"]}}]}]", "198.19.0.10:80"),
        ]
        for item in cases {
            try setup.policy("""
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata: {name: \(item.name), namespace: demo}
            spec:
              selector: {matchLabels: {app: echo}}
              \(item.spec)
            """)
            let denied = try setup.send(to: item.target)
            #expect(!denied.ok, "\(item.name) should deny: \(denied.output)")
            let from = item.name == "deny-ipblock" ? "198.18.0.1" : "spiffe://\(Self.client)"
            let check = try setup.agentB.ctlJSON(["policies", "check", "--from", from, "--to", "demo/echo:9000"],
                                                 as: AdminAPI.PolicyCheck.self)
            #expect(!check.allowed && (item.name == "allow-other-port" || check.policy == "demo/\(item.name)"), "\(item.name): \(check)")
        }
        // The port rule allows the other port, directly to the workload address.
        #expect(try setup.send(to: "198.18.0.2:9001").ok, "ALLOW ports [9001] lets 9001 through")

        let metrics = try setup.metrics(setup.b)
        #expect(metrics.contains("response_flags=\"DENY\""), "denials carry DENY on the Istio metrics")
        #expect(metrics.contains("ferry_policy_decisions_total{policy=\"demo/deny-principal\",action=\"DENY\",decision=\"deny\"}"))
        let denials = setup.agentB.process!.stdout.split(separator: "\n").filter { $0.contains("\"type\":\"denial\"") }
        #expect(denials.contains { $0.contains("\"policy\":\"demo/deny-ipblock\"") }, "access log names the policy: \(denials)")

        try setup.policy(nil)
        #expect(try setup.send().ok, "allowed again once the policy is gone")
    }

    @Test func strictRefusesPlaintextAndPermissiveAdmitsIt() throws {
        let setup = try Setup("peerauth")
        defer { setup.mesh.tearDown() }
        // A host outside the mesh talks straight to the workload's address: sk_lookup
        // hands it to ferryd's :15006.
        let permissive = try setup.send(to: "198.18.0.2:9000", from: setup.outsider, cgroup: "plain")
        #expect(permissive.ok && permissive.stdout.hasPrefix("100 "), "\(permissive.output)")
        let status = try setup.agentB.ctlJSON(["status"], as: AdminAPI.Status.self)
        #expect(status.kernelCounters["inbound_steered", default: 0] >= 1)
        #expect(try setup.metrics(setup.b).contains("connection_security_policy=\"none\""))

        try setup.policy("""
        apiVersion: security.istio.io/v1
        kind: PeerAuthentication
        metadata: {name: default, namespace: istio-system}
        spec: {mtls: {mode: STRICT}}
        """)
        #expect(poll(timeout: 5) { (try? setup.send(to: "198.18.0.2:9000", from: setup.outsider, cgroup: "plain").ok) == false },
                "STRICT refuses plaintext")
        #expect(try setup.send().ok, "mTLS from the mesh still works under STRICT")
        let policies = try setup.agentB.ctlJSON(["policies"], as: [AdminAPI.PolicyInfo].self)
        #expect(policies.contains { $0.kind == "PeerAuthentication" && $0.scope == "mesh-wide" && $0.workloads.contains("demo/echo") })
    }

    @Test func aPolicyUpdateClosesALiveConnectionWithinOneSecond() throws {
        let setup = try Setup("live")
        defer { setup.mesh.tearDown() }
        let hold = try setup.a.spawn("hold", in: "client", ["python3", Paths.testTool, "hold", "--to", "198.19.0.10:80", "--seconds", "20"])
        #expect(hold.waitForOutput("connected"))
        _ = poll(timeout: 3) { ((try? setup.agentB.ctlJSON(["status"], as: AdminAPI.Status.self))?.liveConnections ?? 0) > 0 }
        let started = Date()
        try """
        apiVersion: security.istio.io/v1
        kind: AuthorizationPolicy
        metadata: {name: lockdown, namespace: demo}
        spec:
          selector: {matchLabels: {app: echo}}
          action: DENY
          rules: [{}]
        """.write(toFile: setup.mesh.configDirectory + "/policy.yaml", atomically: true, encoding: .utf8)
        let closed = poll(timeout: 5, interval: 0.02) { !hold.isRunning }
        let elapsed = Date().timeIntervalSince(started)
        #expect(closed, "the live connection was not closed")
        #expect(elapsed < 1.0, "closed after \(elapsed) s")
    }

    @Test func badPoliciesAreRejectedWithFileAndLineAndTheGoodStateStays() throws {
        let setup = try Setup("badpolicy")
        defer { setup.mesh.tearDown() }
        try setup.policy("""
        apiVersion: security.istio.io/v1
        kind: AuthorizationPolicy
        metadata: {name: deny-client, namespace: demo}
        spec:
          selector: {matchLabels: {app: echo}}
          action: DENY
          rules: [{from: [{source: {principals: ["\(Self.client)"]}}]}]
        """)
        #expect(try !setup.send().ok)
        let bad: [(String, String)] = [
            ("unknown field", "spec:\n  action: DENY\n  rulez: []"),
            ("bad CIDR", "spec:\n  action: DENY\n  rules: [{from: [{source: {ipBlocks: [198.18.0.0/99]}}]}]"),
            ("unknown action", "spec:\n  action: BLOCK"),
        ]
        for (what, spec) in bad {
            try setup.policy("""
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata: {name: deny-client, namespace: demo}
            \(spec)
            """)
            let status = try setup.agentB.ctlJSON(["status"], as: AdminAPI.Status.self)
            #expect(status.configErrors.contains { $0.contains("policy.yaml:") }, "\(what): \(status.configErrors)")
            #expect(try !setup.send().ok, "\(what): the last good policy still denies")
        }
        try setup.policy("""
        apiVersion: networking.istio.io/v1
        kind: AuthorizationPolicy
        metadata: {name: deny-client, namespace: demo}
        spec: {action: DENY}
        """)
        let status = try setup.agentB.ctlJSON(["status"], as: AdminAPI.Status.self)
        #expect(status.configErrors.contains { $0.contains("apiVersion") }, "\(status.configErrors)")
        #expect(setup.agentB.process!.isRunning)
    }
}
