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
