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
        let api = try FakeAPIServer(on: node)
        _ = try node.cgroup("pod-web")
        let objects = [
            #"{"apiVersion":"v1","kind":"Node","metadata":{"name":"\#(node.name)"},"status":{"addresses":[{"type":"InternalIP","address":"\#(node.ipv4)"}]}}"#,
            #"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"shop","labels":{"ferry.dev/mesh":"enabled"}}}"#,
            #"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","namespace":"shop","uid":"4b1c-1","annotations":{"ferry.dev/cgroup":"\#(node.relativeCgroup("pod-web"))"}},"spec":{"nodeName":"\#(node.name)","serviceAccountName":"web"},"status":{"phase":"Running","podIP":"\#(node.ipv4)"}}"#,
            #"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"elsewhere","namespace":"shop","uid":"4b1c-2"},"spec":{"nodeName":"other-node"},"status":{"phase":"Running","podIP":"198.18.0.77"}}"#,
        ]
        try api.apply(objects)
        let kubeconfig = api.kubeconfig

        // Until every kind is listed the agent is up but not ready.
        try api.configure(#"{"failing": ["pods"]}"#)
        let agent = try TestAgent(host: node)
        let arguments = agent.arguments.filter { $0 != "--config-dir" && $0 != agent.configDirectory }
        let process = try node.spawn("ferryd-k8s", in: "agent", arguments + ["--kubeconfig", kubeconfig])
        var ready = Shell.Result(status: -1, stdout: "", stderr: "")
        func readiness() -> Shell.Result {
            ready = (try? node.run(in: "ctl", ["curl", "-s", "-w", " %{http_code}", "http://127.0.0.1:15021/healthz/ready"])) ?? ready
            return ready
        }
        #expect(poll(timeout: 20) { readiness().stdout == "not ready: waiting for mesh state\n 503" },
                 "listeners up, pods not listed: \(ready.output)")
        try api.configure(#"{"failing": []}"#)
        #expect(poll(timeout: 20) { readiness().stdout == "ready\n 200" }, "\(ready.output)")
        var status: AdminAPI.Status?
        #expect(poll(timeout: 20, interval: 0.3) {
            status = try? agent.ctlJSON(["status"])
            return status?.enrolledWorkloads == ["shop/web"]
        }, "status: \(String(describing: status)) \(process.stderr.suffix(1500))")
        let sent = try node.run(in: "pod-web", ["python3", Paths.testTool, "send", "--to", "\(server.ipv4):9000", "--bytes", "1000"])
        #expect(sent.ok, "\(sent.output)")
        #expect(try agent.ctlJSON(["status"], as: AdminAPI.Status.self).kernelCounters["redirected"] == 1)
        // The pod goes away: it is unenrolled.
        try api.delete(#"{"kind":"Pod","namespace":"shop","name":"web"}"#)
        #expect(poll(timeout: 10) { (try? agent.ctlJSON(["status"], as: AdminAPI.Status.self))?.enrolledWorkloads == [] })
        process.stop()
    }
}
