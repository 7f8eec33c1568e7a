import FerryProxy
import Foundation
import Testing

/// Issue 7: workloads with network namespaces of their own (pods). ferryd opens
/// its capture listener inside each, and two pods' 127.0.0.1:15001 never mix.
@Suite(.serialized, .enabled(if: Privileges.isRoot, Privileges.skipReason))
struct PodListenerTests {
    @Test func twoPodsEachCapturedByTheirOwnListener() throws {
        let lab = try TestLab("pods")
        defer { lab.tearDown() }
        let node = try lab.addHost("node")
        let server = try lab.addHost("srv")
        // Two "pods": namespaces with their own loopback and address, whose
        // processes sit in cgroups under the node's cgroup root.
        let pods = [try lab.addHost("pod"), try lab.addHost("pod")]
        let agent = try TestAgent(host: node)
        for (index, pod) in pods.enumerated() {
            _ = try node.cgroup("pod\(index)")
            try agent.writeConfig("pod\(index).yaml", """
            apiVersion: networking.istio.io/v1
            kind: WorkloadEntry
            metadata:
              name: pod\(index)
              namespace: shop
              annotations:
                ferry.dev/node: \(node.name)
                ferry.dev/cgroup: \(node.relativeCgroup("pod\(index)"))
                ferry.dev/netns: /run/netns/\(pod.namespace)
            spec: {address: \(pod.ipv4), serviceAccount: pod\(index)}

            """)
        }
        for port in [9000, 9001] {
            let sink = try server.spawn("sink\(port)", ["python3", Paths.testTool, "sink", "--listen", "[::]:\(port)"])
            #expect(sink.waitForOutput("listening"))
        }
        let process = try agent.start()
        #expect(poll(timeout: 10) { process.stderr.components(separatedBy: "capture listener up in a workload namespace").count - 1 == 2 },
                "a listener in each pod namespace: \(process.stderr.suffix(1500))")

        // Both pods hold a connection at once, each through 127.0.0.1:15001 of its own namespace.
        var holds: [BackgroundProcess] = []
        for (index, pod) in pods.enumerated() {
            holds.append(try lab.spawn("hold\(index)", namespace: pod.namespace, cgroup: try node.cgroup("pod\(index)"),
                                       ["python3", Paths.testTool, "hold", "--to", "\(server.ipv4):\(9000 + index)", "--seconds", "4"]))
        }
        #expect(holds.allSatisfy { $0.waitForOutput("connected") })
        var seen: [String: String] = [:]
        _ = poll(timeout: 3, interval: 0.2) {
            let rows = (try? agent.ctlJSON(["connections"], as: [[String: JSONValue]].self)) ?? []
            seen = Dictionary(rows.compactMap { row in
                row["sourceWorkload"]?.string.flatMap { source in row["destination"]?.string.map { (source, $0) } }
            }, uniquingKeysWith: { a, _ in a })
            return seen.count == 2
        }
        #expect(seen["shop/pod0"] == "\(server.ipv4):9000", "\(seen)")
        #expect(seen["shop/pod1"] == "\(server.ipv4):9001", "\(seen)")
        for hold in holds {
            #expect(hold.waitForExit(timeout: 15) == 0, "\(hold.stdout) \(hold.stderr)")
        }
        let status = try agent.ctlJSON(["status"], as: AdminAPI.Status.self)
        #expect(status.kernelCounters["redirected"] == 2 && status.kernelCounters["origin_found"] == 2, "\(status.kernelCounters)")
    }
}
