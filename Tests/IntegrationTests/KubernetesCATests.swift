import FerryProxy
import Foundation
import Testing

/// `ferryd ca --kubeconfig` against the fake API server, and an agent that
/// has only a token file and the mesh root (`--ca-token`, `--ca-root`): the
/// CA reviews the token (TokenReview), issues the agent's node credential, and
/// signs the certificate of the pod on the agent's node. Everything listens on
/// 127.0.0.1 inside the node's namespace.
@Suite(.serialized, .enabled(if: Privileges.isRoot, Privileges.skipReason))
struct KubernetesCATests {
    @Test func agentWithAProjectedTokenGetsItsPodsCertificate() throws {
        let lab = try TestLab("k8sca")
        defer { lab.tearDown() }
        let node = try lab.addHost("node")
        let api = try FakeAPIServer(on: node)
        _ = try node.cgroup("pod-web")
        let objects = [
            #"{"apiVersion":"v1","kind":"Node","metadata":{"name":"\#(node.name)"},"status":{"addresses":[{"type":"InternalIP","address":"\#(node.ipv4)"}]}}"#,
            #"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"shop","labels":{"ferry.dev/mesh":"enabled"}}}"#,
            #"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","namespace":"shop","uid":"4b1c-1","annotations":{"ferry.dev/cgroup":"\#(node.relativeCgroup("pod-web"))"}},"spec":{"nodeName":"\#(node.name)","serviceAccountName":"web"},"status":{"phase":"Running","podIP":"\#(node.ipv4)"}}"#,
            #"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"db","namespace":"shop","uid":"4b1c-2"},"spec":{"nodeName":"other-node","serviceAccountName":"db"},"status":{"phase":"Running","podIP":"198.18.0.77"}}"#,
        ]
        try api.apply(objects)
        // The token's node is the agent's: the agent's own pod, for the review.
        try api.configure(#"{"tokens":{"agent-token":{"username":"system:serviceaccount:ferry-system:ferry-agent","extra":{"authentication.kubernetes.io/node-name":["\#(node.name)"],"authentication.kubernetes.io/pod-name":["ferry-agent-1"]},"audiences":["ferry-ca"]}}}"#)
        let kubeconfig = api.kubeconfig

        let caDirectory = lab.logDirectory + "/ca"
        _ = try lab.check(Shell.run([Paths.ferryctl, "ca", "init", "--ca-dir", caDirectory]))
        let ca = try node.spawn("ca", in: "ca", [Paths.ferryd, "ca", "--ca-dir", caDirectory, "--kubeconfig", kubeconfig,
                                                 "--listen", "127.0.0.1:15012", "--log-level", "debug"])
        #expect(poll(timeout: 20) { ca.stderr.contains("ferryd ca up") }, "\(ca.stderr.suffix(1500))")

        let tokenFile = lab.logDirectory + "/token"
        try "agent-token\n".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        let agent = try TestAgent(host: node)
        let arguments = agent.arguments.filter { $0 != "--config-dir" && $0 != agent.configDirectory }
        let process = try node.spawn("ferryd-k8s", in: "agent", arguments + [
            "--kubeconfig", kubeconfig, "--ca-address", "127.0.0.1:15012",
            "--ca-token", tokenFile, "--ca-root", caDirectory + "/ca.crt",
        ])
        var certificates: [AdminAPI.Certificate] = []
        #expect(poll(timeout: 30, interval: 0.3) {
            certificates = (try? agent.ctlJSON(["certs"])) ?? []
            return certificates.contains { $0.identity == "spiffe://cluster.local/ns/shop/sa/web" && $0.state == "valid" }
        }, "certs: \(certificates) agent: \(process.stderr.suffix(1500)) ca: \(ca.stderr.suffix(1500))")
        #expect(!certificates.contains { $0.identity.hasSuffix("/sa/db") }, "db runs on another node")
        let caLog = ca.stderr
        #expect(caLog.contains("signed node credential"), "the node credential came from the CA")
        #expect(caLog.contains("token of service account ferry-system/ferry-agent, pod ferry-agent-1, node \(node.name)"))

        // Another account's token gets nothing: the agent stops with the CA's reason.
        try "stranger\n".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        process.stop()
        let refused = try node.spawn("ferryd-k8s-refused", in: "agent", arguments + [
            "--kubeconfig", kubeconfig, "--ca-address", "127.0.0.1:15012",
            "--ca-token", tokenFile, "--ca-root", caDirectory + "/ca.crt",
        ])
        #expect(refused.waitForExit(timeout: 20) != nil, "the agent should stop on a refused token")
        #expect(refused.stderr.contains("bearer token refused: token not authenticated"), "\(refused.stderr.suffix(1500))")
        ca.stop()
    }
}
