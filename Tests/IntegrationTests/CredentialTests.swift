import FerryProxy
import Foundation
import Testing

/// Node credentials on hosts (the file source) are short-lived and renewed
/// from the CA at half-life; a revoked one is refused with the reason.
@Suite(.serialized, .enabled(if: Privileges.isRoot, Privileges.skipReason))
struct CredentialTests {
    @Test func nodeCredentialsRenewAtHalfLifeAndARevokedOneIsRefused() throws {
        let mesh = try TestMesh("nodecred", meshConfig: "  workloadCertificateTTL: 20s", nodeCredentialValidity: "20s")
        defer { mesh.tearDown() }
        let (a, b) = (mesh.nodes[0], mesh.nodes[1])
        try mesh.addWorkload("client", on: a)
        try mesh.addWorkload("echo", on: b, ports: ["tcp": 9000])
        try mesh.addService("echo", vip: "198.19.0.10", port: 80, targetPort: 9000)
        let sink = try b.spawn("sink", in: "echo", ["python3", Paths.testTool, "sink", "--listen", "[::]:9000"])
        #expect(sink.waitForOutput("listening"))
        try mesh.start()
        #expect(mesh.waitForCertificates())
        let file = mesh.credentials(a) + "/node.crt"
        let issued = try String(contentsOfFile: file, encoding: .utf8)

        // Half of 20 s: renewed, written back, and the agent keeps serving.
        let agent = mesh.agents[0]
        #expect(poll(timeout: 25, interval: 0.5) { agent.process!.stderr.contains("node credential renewed") },
                "\(agent.process!.stderr.suffix(2000))")
        #expect(poll(timeout: 5) { (try? String(contentsOfFile: file, encoding: .utf8)) != issued }, "the renewed credential is on disk")
        let sent = try a.run(in: "client", ["python3", Paths.testTool, "send", "--to", "198.19.0.10:80", "--bytes", "10000"])
        #expect(sent.ok && sent.stdout.hasPrefix("10000 "), "\(sent.output)")

        // Revoked: the next renewal (and any signing) is refused, with the reason.
        let revoke = Shell.run([Paths.ferryctl, "ca", "revoke-node", a.name, "--ca-dir", mesh.caDirectory, "--reason", "host reimaged"])
        #expect(revoke.ok, "\(revoke.output)")
        #expect(poll(timeout: 20, interval: 0.5) {
            agent.process!.stderr.split(separator: "\n").contains {
                $0.contains("node credential renewal failed") && $0.contains("was revoked") && $0.contains("host reimaged")
            }
        }, "\(agent.process!.stderr.suffix(2000))")
        #expect(mesh.ca!.stderr.contains("was revoked"), "the CA logs the refusal: \(mesh.ca!.stderr.suffix(1500))")
    }
}
