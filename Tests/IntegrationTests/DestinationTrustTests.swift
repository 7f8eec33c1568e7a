import FerryProxy
import Foundation
import Testing

/// The destination agent decides with what it verified itself (DESIGN.md §1,
/// "Trust"): its workload's HTTP rules are applied to every request it
/// receives, whatever a peer says it checked, and a peer's `forwarded`
/// address counts only for a workload of the peer's proven identity.
@Suite(.serialized, .enabled(if: Privileges.isRoot, Privileges.skipReason))
struct DestinationTrustTests {
    @Test func aHostilePeerCannotTalkPastTheDestinationsOwnRules() throws {
        let mesh = try TestMesh("hostile")
        defer { mesh.tearDown() }
        let (a, b) = (mesh.nodes[0], mesh.nodes[1])
        try mesh.addWorkload("client", on: a)
        try mesh.addWorkload("web", on: b, ports: ["http": 8080])
        try mesh.addService("web", vip: "198.19.0.30", port: 80, targetPort: 8080, portName: "http")
        let server = try b.spawn("web", in: "web", ["python3", Paths.tool("httpserver.py"), "--port", "8080", "--name", "web"])
        #expect(server.waitForOutput("listening"))
        try """
        apiVersion: security.istio.io/v1
        kind: AuthorizationPolicy
        metadata: {name: no-admin, namespace: demo}
        spec:
          selector: {matchLabels: {app: web}}
          action: DENY
          rules: [{to: [{operation: {paths: ["/admin", "/admin/*"]}}]}]
        """.write(toFile: mesh.configDirectory + "/no-admin.yaml", atomically: true, encoding: .utf8)
        try mesh.start()
        #expect(mesh.waitForCertificates())

        // Through the agents, as a workload sees it: the denied path is refused.
        func curl(_ path: String) throws -> String {
            try a.run(in: "client", ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "http://198.19.0.30\(path)"]).stdout
        }
        #expect(poll(timeout: 10, interval: 0.3) { (try? curl("/public")) == "200" })
        #expect(try curl("/admin") == "403")
        #expect(try curl("/admin/users") == "403")

        // A peer holding a valid certificate of the client's identity, talking
        // to the destination's :15008 directly.
        let dir = mesh.lab.logDirectory
        try mesh.lab.check(Shell.run(["/usr/bin/python3", Paths.tool("certgen.py"), "leaf", "--ca-dir", mesh.caDirectory,
                                      "--uri", "spiffe://cluster.local/ns/demo/sa/client", "--out", dir + "/stolen"]))
        func peer(_ path: String, claims: Bool) throws -> Shell.Result {
            var arguments = ["/usr/bin/python3", Paths.tool("hbone_client.py"), "--agent", "\(b.ipv4):15008",
                             "--authority", "\(b.ipv4):8080", "--ca", mesh.caDirectory + "/ca.crt",
                             "--cert", dir + "/stolen.crt", "--key", dir + "/stolen.key", "--http-get", path]
            if claims { arguments += ["--header", "ferry-l7:checked", "--header", "forwarded:for=198.18.0.99"] }
            return try a.run(in: "outsider", arguments, timeout: 30)
        }
        let hostile = try peer("/admin", claims: true)
        #expect(hostile.stdout.contains("STATUS 200") && hostile.stdout.contains("HTTP/1.1 403"), "\(hostile.output)")
        #expect(!hostile.stdout.contains("\"workload\": \"web\""), "the workload never answered: \(hostile.output)")
        let allowed = try peer("/public", claims: false)
        #expect(allowed.stdout.contains("HTTP/1.1 200") && allowed.stdout.contains("\"path\": \"/public\""), "\(allowed.output)")

        // The claimed address was not used, and that was counted.
        let metrics = try b.run(in: "ctl", ["curl", "-s", "localhost:15020/metrics"]).stdout
        #expect(metrics.contains("ferry_peer_claims_rejected_total{claim=\"forwarded\"}"), "\(metrics.prefix(2000))")

        // An ipBlocks DENY on the client's real address still denies, whatever
        // address the peer claims to forward for.
        try """
        apiVersion: security.istio.io/v1
        kind: AuthorizationPolicy
        metadata: {name: no-node1, namespace: demo}
        spec:
          selector: {matchLabels: {app: web}}
          action: DENY
          rules: [{from: [{source: {ipBlocks: ["\(a.ipv4)/32"]}}]}]
        """.write(toFile: mesh.configDirectory + "/no-node1.yaml", atomically: true, encoding: .utf8)
        var denied = Shell.Result(status: -1, stdout: "", stderr: "")
        #expect(poll(timeout: 10, interval: 0.3) {
            denied = (try? peer("/public", claims: true)) ?? denied
            return denied.stdout.contains("STATUS 403") || denied.stdout.contains("HTTP/1.1 403")
        }, "\(denied.output)")
        #expect(!denied.stdout.contains("\"workload\": \"web\""), "\(denied.output)")
        let viaAgents = try curl("/public")
        #expect(viaAgents == "403", "\(viaAgents)")
    }
}
