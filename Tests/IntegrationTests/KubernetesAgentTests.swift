import FerryProxy
import Foundation
import Testing

/// Issue 7: ferryd with the Kubernetes source (`--kubeconfig`), against the
/// fake API server: pods of this node are enrolled from the API's view, and a
/// process in the pod's cgroup is captured.
@Suite(.serialized, .enabled(if: Privileges.isRoot, Privileges.skipReason))
struct KubernetesAgentTests {
    @Test func ferrydEnrollsAPodFromTheAPIServer() throws {
        let lab = try TestLab("k8sagent")
        defer { lab.tearDown() }
        let node = try lab.addHost("node")
        let server = try lab.addHost("srv")
        let sink = try server.spawn("sink", ["python3", Paths.testTool, "sink", "--listen", "[::]:9000"])
        #expect(sink.waitForOutput("listening"))
        let api = try node.spawn("apiserver", in: "api", [
            "python3", Paths.packageRoot + "/Tests/FerryKubernetesTests/Tools/fake_apiserver.py", "--port", "16443",
            "--state-file", lab.logDirectory + "/api-state.json",
        ])
        #expect(api.waitForOutput("listening"))
        _ = try node.cgroup("pod-web")
        let objects = [
            #"{"apiVersion":"v1","kind":"Node","metadata":{"name":"\#(node.name)"},"status":{"addresses":[{"type":"InternalIP","address":"\#(node.ipv4)"}]}}"#,
            #"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"shop","labels":{"ferry.dev/mesh":"enabled"}}}"#,
            #"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","namespace":"shop","uid":"4b1c-1","annotations":{"ferry.dev/cgroup":"\#(node.relativeCgroup("pod-web"))"}},"spec":{"nodeName":"\#(node.name)","serviceAccountName":"web"},"status":{"phase":"Running","podIP":"\#(node.ipv4)"}}"#,
            #"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"elsewhere","namespace":"shop","uid":"4b1c-2"},"spec":{"nodeName":"other-node"},"status":{"phase":"Running","podIP":"198.18.0.77"}}"#,
        ]
        for object in objects {
            let applied = try node.run(in: "ctl", ["curl", "-sf", "-X", "POST", "--data-binary", object, "http://127.0.0.1:16443/_control/apply"])
            #expect(applied.ok, "\(applied.output)")
        }
        let kubeconfig = lab.logDirectory + "/kubeconfig"
        try """
        apiVersion: v1
        kind: Config
        clusters: [{name: fake, cluster: {server: "http://127.0.0.1:16443"}}]
        users: [{name: ferry, user: {token: test}}]
        contexts: [{name: fake, context: {cluster: fake, user: ferry}}]
        current-context: fake
        """.write(toFile: kubeconfig, atomically: true, encoding: .utf8)

        let agent = try TestAgent(host: node)
        let arguments = agent.arguments.filter { $0 != "--config-dir" && $0 != agent.configDirectory }
        let process = try node.spawn("ferryd-k8s", in: "agent", arguments + ["--kubeconfig", kubeconfig])
        var status: AdminAPI.Status?
        #expect(poll(timeout: 20, interval: 0.3) {
            status = try? agent.ctlJSON(["status"])
            return status?.enrolledWorkloads == ["shop/web"]
        }, "status: \(String(describing: status)) \(process.stderr.suffix(1500))")
        let sent = try node.run(in: "pod-web", ["python3", Paths.testTool, "send", "--to", "\(server.ipv4):9000", "--bytes", "1000"])
        #expect(sent.ok, "\(sent.output)")
        #expect(try agent.ctlJSON(["status"], as: AdminAPI.Status.self).kernelCounters["redirected"] == 1)
        // The pod goes away: it is unenrolled.
        _ = try node.run(in: "ctl", ["curl", "-sf", "-X", "POST", "--data-binary", #"{"kind":"Pod","namespace":"shop","name":"web"}"#,
                                     "http://127.0.0.1:16443/_control/delete"])
        #expect(poll(timeout: 10) { (try? agent.ctlJSON(["status"], as: AdminAPI.Status.self))?.enrolledWorkloads == [] })
        process.stop()
    }
}
