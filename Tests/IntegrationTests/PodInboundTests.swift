import FerryProxy
import Foundation
import Testing

/// Inbound plaintext capture inside a pod's own network namespace. A pod
/// receives its traffic in its namespace, where the node's sk_lookup program
/// does not run; ferryd attaches the program there too and opens :15006 inside.
/// Topology: two nodes (a has the mesh client), a pod namespace of node b with
/// its own address on the lab's bridge (198.18.0.0/24, no default route), and a
/// host outside the mesh that talks to the pod's address directly.
@Suite(.serialized, .enabled(if: Privileges.isRoot, Privileges.skipReason))
struct PodInboundTests {
    @Test func podNamespaceInboundFollowsPeerAuthenticationAcrossRestartAndUnenrollment() throws {
        let mesh = try TestMesh("podinbound")
        defer { mesh.tearDown() }
        let (a, b, agentB) = (mesh.nodes[0], mesh.nodes[1], mesh.agents[1])
        let pod = try mesh.lab.addHost("pod")
        let outsider = try mesh.lab.addHost("out")
        try mesh.addWorkload("client", on: a)
        _ = try b.cgroup("echo")
        let echoYAML = """
        apiVersion: networking.istio.io/v1
        kind: WorkloadEntry
        metadata:
          name: echo
          namespace: demo
          labels: {app: echo}
          annotations:
            ferry.dev/node: \(b.name)
            ferry.dev/cgroup: \(b.relativeCgroup("echo"))
            ferry.dev/netns: /run/netns/\(pod.namespace)
        spec: {address: \(pod.ipv4), serviceAccount: echo, ports: {tcp: 9000}}

        """
        try agentB.writeConfig("wl-echo.yaml", echoYAML)
        let sink = try mesh.lab.spawn("sink", namespace: pod.namespace, cgroup: try b.cgroup("echo"),
                                      ["python3", Paths.testTool, "sink", "--listen", "[::]:9000"])
        try #require(sink.waitForOutput("listening"))
        try mesh.start()
        try #require(mesh.waitForCertificates())

        var info = stat()
        try #require(stat("/run/netns/\(pod.namespace)", &info) == 0)
        let pin = "\(agentB.pinDirectory)/pods/\(info.st_ino)/ferry_inbound_lookup"
        #expect(poll(timeout: 10) { FileManager.default.fileExists(atPath: pin) },
                     "sk_lookup link pinned for the pod namespace: \(agentB.process!.stderr.suffix(2000))")

        let target = "\(pod.ipv4):9000"
        let attached = try agentB.ctlJSON(["status"], as: AdminAPI.Status.self).programsAttached
        #expect(attached["ferry_inbound_lookup@netns:\(info.st_ino)"] == true, "status lists the pod's link: \(attached)")
        let entries = try agentB.ctlJSON(["maps", "dump", "ferry_inbound"], as: [[String: String]].self)
        #expect(entries.contains { $0["address"] == target && $0["listener"] == "pod pair 1" },
                "the pod's entry names the listener pair opened in its namespace: \(entries)")
        // `timeout` tells a SYN dropped in the kernel (124) from a refusal.
        func send(from host: TestHost, cgroup: String) throws -> Shell.Result {
            try host.run(in: cgroup, ["timeout", "4", "python3", Paths.testTool, "send", "--to", target, "--bytes", "100"], timeout: 30)
        }
        func plaintext() throws -> Shell.Result { try send(from: outsider, cgroup: "plain") }
        func fromMesh() throws -> Shell.Result { try send(from: a, cgroup: "client") }
        func counters() throws -> [String: UInt64] { try agentB.ctlJSON(["status"], as: AdminAPI.Status.self).kernelCounters }
        func metricLines() throws -> [Substring] {
            try b.run(in: "ctl", ["curl", "-s", "localhost:15020/metrics"]).stdout.split(separator: "\n")
                .filter { $0.hasPrefix("istio_tcp_connections_opened_total") && $0.contains("destination_workload=\"echo\"") }
        }
        func policy(_ yaml: String?) throws {
            let path = mesh.configDirectory + "/policy.yaml"
            if let yaml { try yaml.write(toFile: path, atomically: true, encoding: .utf8) } else { try? FileManager.default.removeItem(atPath: path) }
            let generation = try agentB.ctlJSON(["status"], as: AdminAPI.Status.self).configGeneration
            _ = poll(timeout: 5) { ((try? agentB.ctlJSON(["status"], as: AdminAPI.Status.self))?.configGeneration ?? 0) > generation }
        }

        // PERMISSIVE: plaintext is steered to ferryd's listener inside the pod and admitted.
        let steeredBefore = try counters()["inbound_steered", default: 0]
        let admitted = try plaintext()
        #expect(admitted.ok && admitted.stdout.hasPrefix("100 "), "\(admitted.output)")
        #expect(peer(admitted, is: b.ipv4), "the sink saw ferryd (node b) as the peer, not the outsider: \(admitted.stdout)")
        #expect(try counters()["inbound_steered", default: 0] > steeredBefore, "the SYN arrived in the pod namespace and was steered")
        let lines = try metricLines()
        #expect(lines.contains { $0.contains("connection_security_policy=\"none\"") }, "ferryd saw the plaintext connection: \(lines)")
        // The mesh reaches the pod through HBONE; ferryd's delivery is not steered again.
        let meshed = try fromMesh()
        #expect(meshed.ok && meshed.stdout.hasPrefix("100 "), "\(meshed.output)")
        #expect(try metricLines().contains { $0.contains("connection_security_policy=\"mutual_tls\"") })

        // STRICT: ferryd refuses plaintext inside the pod; the mesh still works.
        try policy("""
        apiVersion: security.istio.io/v1
        kind: PeerAuthentication
        metadata: {name: default, namespace: istio-system}
        spec: {mtls: {mode: STRICT}}
        """)
        #expect(poll(timeout: 8, interval: 0.5) { (try? plaintext())?.ok == false }, "STRICT refuses plaintext to the pod")
        let refused = try plaintext()
        #expect(!refused.ok && refused.status != 124, "refused by ferryd, not left hanging: \(refused.output)")
        #expect(try fromMesh().ok, "mTLS from the mesh still reaches the pod under STRICT")

        // ferryd down: the pinned link keeps STRICT plaintext out. SK_DROP fails the
        // socket lookup, so the SYN is answered with a reset: refused, not accepted
        // by the sink.
        let droppedBefore = try counters()["inbound_dropped", default: 0]
        agentB.kill9()
        #expect(FileManager.default.fileExists(atPath: pin), "the pod's link outlives ferryd")
        let whileDown = try plaintext()
        #expect(!whileDown.ok && whileDown.output.contains("ConnectionRefusedError"),
                "STRICT plaintext refused in the kernel while ferryd is down: \(whileDown.output)")

        // Restarted: the new ferryd takes the pinned link over and refuses again.
        try mesh.startAgent(agentB)
        #expect(poll(timeout: 10) { agentB.process!.stderr.contains("taken over from the pinned link") },
                 "\(agentB.process!.stderr.suffix(2000))")
        #expect(try counters()["inbound_dropped", default: 0] > droppedBefore, "the kernel counted the drop (pinned counters)")
        #expect(poll(timeout: 8, interval: 0.5) {
            guard let before = try? counters()["inbound_steered", default: 0], let result = try? plaintext(),
                  let after = try? counters()["inbound_steered", default: 0] else { return false }
            return !result.ok && result.status != 124 && after > before
        }, "steered to the restarted ferryd's listener in the pod and refused there")
        #expect(poll(timeout: 10, interval: 0.5) { (try? fromMesh())?.ok == true }, "mesh traffic after the restart")

        // PERMISSIVE again, then unenrolled: the link and its pin go, and the pod is
        // an ordinary host again (the sink sees the outsider itself).
        try policy(nil)
        #expect(poll(timeout: 8, interval: 0.5) { (try? plaintext())?.ok == true }, "PERMISSIVE admits plaintext again")
        agentB.removeConfig("wl-echo.yaml")
        #expect(poll(timeout: 10) { !FileManager.default.fileExists(atPath: pin) }, "pin removed with the workload")
        #expect(!FileManager.default.fileExists(atPath: "\(agentB.pinDirectory)/pods/\(info.st_ino)"))
        let direct = try plaintext()
        #expect(peer(direct, is: outsider.ipv4), "no capture left in the pod namespace: \(direct.output)")

        // Enrolled again, then ferryd down: PERMISSIVE plaintext reaches the pod
        // directly (fail open). Unenrolled while ferryd is down: the next ferryd
        // removes the stale pin once it knows the full state.
        try agentB.writeConfig("wl-echo.yaml", echoYAML)
        #expect(poll(timeout: 10) { FileManager.default.fileExists(atPath: pin) }, "pinned again on re-enrolment")
        #expect(poll(timeout: 8, interval: 0.5) {
            peer(try? plaintext(), is: b.ipv4)
        }, "captured again: the sink sees ferryd")
        agentB.kill9()
        let failOpen = try plaintext()
        #expect(peer(failOpen, is: outsider.ipv4), "PERMISSIVE fails open: \(failOpen.output)")
        agentB.removeConfig("wl-echo.yaml")
        try mesh.startAgent(agentB)
        #expect(poll(timeout: 10) { !FileManager.default.fileExists(atPath: pin) },
                "stale pin removed by the restarted ferryd: \(agentB.process!.stderr.suffix(1500))")
    }

    /// IPv6, and two workloads in one pod namespace: both addresses name the
    /// namespace's one pair, and the IPv6 half of it takes the IPv6 connections.
    @Test func ipv6WorkloadSharesItsNamespacePair() throws {
        let lab = try TestLab("podinbound6")
        defer { lab.tearDown() }
        let node = try lab.addHost("node")
        let pod = try lab.addHost("pod")
        let outsider = try lab.addHost("out")
        let agent = try TestAgent(host: node)
        for (name, address) in [("echo", pod.ipv4), ("echo6", pod.ipv6)] {
            _ = try node.cgroup(name)
            try agent.writeConfig("\(name).yaml", """
            apiVersion: networking.istio.io/v1
            kind: WorkloadEntry
            metadata:
              name: \(name)
              namespace: demo
              annotations:
                ferry.dev/node: \(node.name)
                ferry.dev/cgroup: \(node.relativeCgroup(name))
                ferry.dev/netns: /run/netns/\(pod.namespace)
            spec: {address: "\(address)", serviceAccount: \(name), ports: {tcp: 9000}}

            """)
        }
        let sink = try lab.spawn("sink", namespace: pod.namespace, cgroup: try node.cgroup("echo"),
                                 ["python3", Paths.testTool, "sink", "--listen", "[::]:9000"])
        try #require(sink.waitForOutput("listening"))
        let process = try agent.start()
        try #require(poll(timeout: 10) { process.stderr.contains("inbound capture attached to a workload namespace") },
                     "\(process.stderr.suffix(2000))")
        #expect(process.stderr.contains("ferry.address=[::1]:15006 ferry.netns=/run/netns/\(pod.namespace)"), "IPv6 half of the pair is up")
        let entries = try agent.ctlJSON(["maps", "dump", "ferry_inbound"], as: [[String: String]].self)
        #expect(entries.filter { $0["listener"] == "pod pair 1" }.count == 2, "both workloads name the namespace's pair: \(entries)")

        func plaintext() throws -> Shell.Result {
            try outsider.run(in: "plain", ["timeout", "4", "python3", Paths.testTool, "send", "--to", "[\(pod.ipv6)]:9000", "--bytes", "100"],
                             timeout: 30)
        }
        func steered() throws -> UInt64 { try agent.ctlJSON(["status"], as: AdminAPI.Status.self).kernelCounters["inbound_steered", default: 0] }
        let before = try steered()
        let admitted = try plaintext()
        #expect(peer(admitted, is: node.ipv6), "PERMISSIVE: through ferryd, which connects from the node: \(admitted.output)")
        #expect(try steered() > before)

        try agent.writeConfig("strict.yaml", """
        apiVersion: security.istio.io/v1
        kind: PeerAuthentication
        metadata: {name: default, namespace: istio-system}
        spec: {mtls: {mode: STRICT}}
        """)
        #expect(poll(timeout: 8, interval: 0.5) { (try? plaintext())?.ok == false }, "STRICT refuses IPv6 plaintext to the pod")
    }
}

/// The sink answers "<bytes> <sha256> <peer address>": whether the peer was `ip`.
private func peer(_ result: Shell.Result?, is ip: String) -> Bool {
    guard let result, result.ok, result.stdout.hasPrefix("100 ") else { return false }
    let token = result.stdout.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: " ").last.map(String.init)
    return token == ip || token == "::ffff:" + ip
}
