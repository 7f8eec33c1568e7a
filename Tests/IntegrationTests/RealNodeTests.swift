import FerryProxy
import Foundation
import Testing

/// Nodes unlike the lab's own: one address family only, pins and links left
/// by an earlier agent, an agent started outside its cgroup root.
@Suite(.serialized, .enabled(if: Privileges.isRoot, Privileges.skipReason))
struct RealNodeTests {
    /// Two nodes of one family, a CA, agents, and a Service whose endpoint is on
    /// the other node: readiness, then a transfer through the VIP, hash-checked.
    func crossNodeTransfer(families: TestLab.Families, vip: String) throws {
        let mesh = try TestMesh("family", families: families)
        defer { mesh.tearDown() }
        let (a, b) = (mesh.nodes[0], mesh.nodes[1])
        try mesh.addWorkload("client", on: a)
        try mesh.addWorkload("echo", on: b, ports: ["tcp": 9000])
        try mesh.addService("echo", vip: vip, port: 80, targetPort: 9000)
        let any = families == .ipv6Only ? "[::]:9000" : "0.0.0.0:9000"
        let sink = try b.spawn("sink", in: "echo", ["python3", Paths.testTool, "sink", "--listen", any])
        #expect(sink.waitForOutput("listening"))
        try mesh.start()
        #expect(mesh.waitForCertificates(), "\(mesh.agents.map { $0.process?.stderr.suffix(1500) ?? "" })")
        for agent in mesh.agents {
            let ready = poll(timeout: 10, interval: 0.2) {
                (try? agent.host.run(in: "ctl", ["curl", "-sf", "localhost:15021/healthz/ready"]).ok) == true
            }
            #expect(ready, "\(agent.host.name) never ready: \(agent.process?.stderr.suffix(1500) ?? "")")
            #expect(agent.process?.isRunning == true)
        }
        let target = vip.contains(":") ? "[\(vip)]:80" : "\(vip):80"
        let result = try a.run(in: "client", ["python3", Paths.testTool, "send", "--to", target, "--bytes", "\(4 << 20)"])
        #expect(result.ok && result.stdout.hasPrefix("\(4 << 20) "), "\(result.output)")
        let metrics = try a.run(in: "ctl", ["curl", "-s", "localhost:15020/metrics"]).stdout
        #expect(metrics.split(separator: "\n").contains {
            $0.hasPrefix("istio_tcp_connections_opened_total") && $0.contains("connection_security_policy=\"mutual_tls\"")
        }, "the transfer went through HBONE")
        // Prometheus scrapes the node at its own address, whichever family it has.
        let scrape = try b.run(in: "ctl", ["curl", "-sf", "-g", "http://\(a.endpoint(15020))/metrics"])
        #expect(scrape.ok && scrape.stdout.contains("istio_tcp_connections_opened_total"), "\(scrape.output.prefix(300))")
        // The family the node lacks is skipped with a notice, shown by status.
        let status = try mesh.agents[0].ctlJSON(["status"], as: AdminAPI.Status.self)
        let missing = families == .ipv4Only ? "IPv6" : "IPv4"
        #expect(status.notices?.contains { $0.hasPrefix("no \(missing) listener") } == (families == .ipv4Only),
                "\(status.notices ?? [])")
    }

    @Test func ipv4OnlyNodesServeAcrossNodes() throws {
        try crossNodeTransfer(families: .ipv4Only, vip: "198.19.0.10")
    }

    @Test func ipv6OnlyNodesServeAcrossNodes() throws {
        try crossNodeTransfer(families: .ipv6Only, vip: "2001:db8:ffff::10")
    }
}

extension RealNodeTests {
    /// The sequence of issue 18: an agent pins its links in netns X, stops; X is
    /// deleted; an agent with the same pin directory starts in a new netns with
    /// another cgroup root, where an earlier Ferry also left a map of another
    /// layout. It repairs all three, says what it replaced, and captures.
    @Test func pinsLeftByAnEarlierAgentAreRepairedNotFatal() throws {
        let lab = try TestLab("stalepins")
        defer { lab.tearDown() }
        let pins = lab.pinDirectory("shared")
        let gone = try lab.addHost("node")
        let first = try TestAgent(host: gone, pinDirectory: pins)
        try first.start()
        first.stop()
        lab.removeNamespace(gone.namespace)
        // ferry_noports as an older Ferry might have pinned it: other key and value sizes.
        try lab.check(Shell.run(["rm", "-f", pins + "/ferry_noports"]))
        try lab.check(Shell.run(["bpftool", "map", "create", pins + "/ferry_noports", "type", "hash",
                                 "key", "4", "value", "4", "entries", "8", "name", "ferry_noports"]))
        // ferry_tuples of another size but the same entry shape: its entry is copied over.
        try lab.check(Shell.run(["rm", "-f", pins + "/ferry_tuples"]))
        try lab.check(Shell.run(["bpftool", "map", "create", pins + "/ferry_tuples", "type", "lru_hash",
                                 "key", "48", "value", "40", "entries", "64", "name", "ferry_tuples"]))
        try lab.check(Shell.run(["bpftool", "map", "update", "pinned", pins + "/ferry_tuples",
                                 "key", "hex"] + Array(repeating: "07", count: 48) + ["value", "hex"] + Array(repeating: "00", count: 40)))

        let node = try lab.addHost("node")
        let server = try lab.addHost("srv")
        let sink = try server.spawn("sink", ["python3", Paths.testTool, "sink", "--listen", "[::]:9000"])
        #expect(sink.waitForOutput("listening"))
        let agent = try TestAgent(host: node, pinDirectory: pins)
        _ = try node.cgroup("client")
        try agent.writeConfig("client.yaml", agent.workloadYAML(name: "client", cgroupChild: "client"))
        let process = try agent.start()
        #expect(poll(timeout: 5) { (try? agent.ctlJSON(["status"], as: AdminAPI.Status.self).enrolledWorkloads) == ["default/client"] })

        let log = process.stderr
        #expect(log.contains("ferry_inbound_lookup") && log.contains("replaced a stale link"), "\(log.suffix(3000))")
        #expect(log.contains("ferry_connect4") && log.contains("attached elsewhere"), "\(log.suffix(3000))")
        #expect(log.contains("map ferry_noports pinned by an earlier Ferry has another layout"), "\(log.suffix(3000))")
        #expect(log.contains("map ferry_tuples pinned by an earlier Ferry has another layout (max_entries 64 → 65536): replaced, 1 entries copied"),
                "\(log.suffix(3000))")
        let sent = try node.run(in: "client", ["python3", Paths.testTool, "send", "--to", "\(server.ipv4):9000", "--bytes", "100000"])
        #expect(sent.ok && sent.stdout.hasPrefix("100000 "), "\(sent.output)")
        let status = try agent.ctlJSON(["status"], as: AdminAPI.Status.self)
        #expect(status.connectionsOpened >= 1, "the connection went through the agent: \(status.kernelCounters)")
        #expect(status.programsAttached.values.allSatisfy { $0 }, "\(status.programsAttached)")
    }
}

extension RealNodeTests {
    /// ferryd in a cgroup beside its `--cgroup-root` (a systemd service beside
    /// kubepods, say): its own getsockopt and sockops calls must still reach the
    /// programs, so captured connections are served rather than refused. In
    /// an ancestor of the root it refuses to start, naming the cgroup and the fix.
    @Test func anAgentOutsideItsCgroupRootStillCaptures() throws {
        let lab = try TestLab("outside")
        defer { lab.tearDown() }
        let node = try lab.addHost("node")
        let server = try lab.addHost("srv")
        let sink = try server.spawn("sink", ["python3", Paths.testTool, "sink", "--listen", "[::]:9000"])
        #expect(sink.waitForOutput("listening"))
        let agent = try TestAgent(host: node)
        _ = try node.cgroup("client")
        try agent.writeConfig("client.yaml", agent.workloadYAML(name: "client", cgroupChild: "client"))

        agent.cgroup = lab.cgroupRoot
        let above = try node.lab.spawn("ferryd-above", namespace: node.namespace, cgroup: lab.cgroupRoot, agent.arguments)
        #expect(above.waitForExit(timeout: 20) == 1)
        #expect(above.stderr.contains("above the cgroup root") && above.stderr.contains("\(lab.cgroupRoot)"), "\(above.stderr.suffix(800))")

        let beside = lab.cgroupRoot + "/agent-beside"
        try FileManager.default.createDirectory(atPath: beside, withIntermediateDirectories: true)
        agent.cgroup = beside
        let process = try agent.start()
        #expect(poll(timeout: 5) { (try? agent.ctlJSON(["status"], as: AdminAPI.Status.self).enrolledWorkloads) == ["default/client"] })
        let sent = try node.run(in: "client", ["python3", Paths.testTool, "send", "--to", "\(server.ipv4):9000", "--bytes", "100000"])
        #expect(sent.ok && sent.stdout.hasPrefix("100000 "), "\(sent.output)")
        let status = try agent.ctlJSON(["status"], as: AdminAPI.Status.self)
        #expect(status.connectionsOpened >= 1, "the agent served the captured connection: \(status.kernelCounters)")
        #expect(status.kernelCounters["origin_missing"] == 0, "\(status.kernelCounters)")
        #expect(status.programsAttached["ferry_getsockopt@agent"] == true, "\(status.programsAttached)")
        #expect(!process.stderr.contains("was not captured by Ferry"), "\(process.stderr.suffix(2000))")
    }
}
