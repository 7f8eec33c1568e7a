import Foundation

/// Two (or more) nodes with a CA and agents, as the demo builds them: `ferryctl ca
/// init`, a node credential per node, `ferryd ca` on the first node, one agent per
/// node sharing one configuration directory, Node resources with each agent's
/// address.
final class TestMesh: @unchecked Sendable {
    let lab: TestLab
    let nodes: [TestHost]
    let agents: [TestAgent]
    let caDirectory: String
    let configDirectory: String
    private(set) var ca: BackgroundProcess?
    /// Passed to every ferryd this mesh starts.
    var agentArguments: [String] = []

    /// `extraConfig` is appended to the mesh YAML (MeshConfig settings, say).
    /// `delays`: node index → extra round-trip milliseconds on that node's link;
    /// `links`: node index → an emulated link (delay and loss), which wins.
    /// `families`: the address families every node has.
    /// `nodeCredentialValidity`: `ferryctl ca issue-node --validity` (its default when nil).
    init(_ name: String, nodes count: Int = 2, meshConfig: String = "", delays: [Int: Double] = [:],
         links: [Int: TestLab.Link] = [:], families: TestLab.Families = .dual, nodeCredentialValidity: String? = nil) throws {
        lab = try TestLab(name)
        do {
            var hosts: [TestHost] = []
            for index in 0..<count {
                hosts.append(try lab.addHost("node", link: links[index] ?? delays[index].map { TestLab.Link(roundTripMilliseconds: $0) },
                                             families: families))
            }
            nodes = hosts
            let config = lab.logDirectory + "/mesh"
            caDirectory = lab.logDirectory + "/ca"
            configDirectory = config
            try FileManager.default.createDirectory(atPath: config, withIntermediateDirectories: true)
            agents = try hosts.map { try TestAgent(host: $0, configDirectory: config) }
            try lab.check(Shell.run([Paths.ferryctl, "ca", "init", "--ca-dir", caDirectory]))
            for host in hosts {
                try lab.check(Shell.run([Paths.ferryctl, "ca", "issue-node", host.name, "--ca-dir", caDirectory,
                                         "--out", credentials(host)] + (nodeCredentialValidity.map { ["--validity", $0] } ?? [])))
            }
            var yaml = """
            apiVersion: ferry.dev/v1alpha1
            kind: MeshConfig
            metadata: {name: mesh}
            spec:
              captureCIDRs: [198.18.0.0/15\(families == .ipv6Only ? ", \"2001:db8::/32\"" : "")]
            \(meshConfig)

            """
            for host in hosts {
                yaml += """
                ---
                apiVersion: v1
                kind: Node
                metadata: {name: \(host.name)}
                status: {addresses: [{type: InternalIP, address: "\(host.address)"}]}

                """
            }
            try yaml.write(toFile: configDirectory + "/mesh.yaml", atomically: true, encoding: .utf8)
        } catch {
            lab.tearDown()
            throw error
        }
    }

    func credentials(_ host: TestHost) -> String { lab.logDirectory + "/creds-\(host.name)" }
    var caAddress: String { nodes[0].endpoint(15012) }

    /// Starts the CA (on the first node) and every agent.
    func start() throws {
        ca = try nodes[0].spawn("ca", in: "ca", [Paths.ferryd, "ca", "--ca-dir", caDirectory,
                                                 "--config-dir", configDirectory, "--listen", caAddress])
        for agent in agents { try startAgent(agent) }
    }

    func startAgent(_ agent: TestAgent) throws {
        try agent.start(extraArguments: ["--ca-address", caAddress, "--credentials", credentials(agent.host)] + agentArguments)
    }

    /// Adds a workload resource for a cgroup on a node.
    func addWorkload(_ name: String, on host: TestHost, namespace: String = "demo", labels: [String: String] = [:],
                     ports: [String: Int] = [:]) throws {
        _ = try host.cgroup(name)
        let agent = agents.first { $0.host.name == host.name }!
        var labelsWithApp = labels
        labelsWithApp["app"] = labelsWithApp["app"] ?? name
        try agent.writeConfig("wl-\(name).yaml", agent.workloadYAML(name: name, cgroupChild: name, namespace: namespace,
                                                                     labels: labelsWithApp, ports: ports))
    }

    /// Adds a pod: a network namespace of its own on the lab's bridge (its
    /// own address, as Kubernetes gives each pod one, so pods on one node
    /// can listen on the same port), a cgroup under `node`, and the
    /// WorkloadEntry that tells `node`'s agent about both.
    func addPod(_ name: String, on node: TestHost, namespace: String, labels: [String: String],
                serviceAccount: String = "default") throws -> TestPod {
        let network = try lab.addHost("pod")
        let cgroupChild = "\(namespace)-\(name)"
        _ = try node.cgroup(cgroupChild)
        let agent = agents.first { $0.host.name == node.name }!
        let labelText = labels.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ")
        try agent.writeConfig("pod-\(namespace)-\(name).yaml", """
        apiVersion: networking.istio.io/v1
        kind: WorkloadEntry
        metadata:
          name: \(name)
          namespace: \(namespace)
          labels: {\(labelText)}
          annotations:
            ferry.dev/node: \(node.name)
            ferry.dev/cgroup: \(node.relativeCgroup(cgroupChild))
            ferry.dev/netns: /run/netns/\(network.namespace)
        spec: {address: \(network.ipv4), serviceAccount: \(serviceAccount)}

        """)
        return TestPod(name: name, namespace: namespace, node: node, network: network, cgroupChild: cgroupChild)
    }

    func addService(_ name: String, namespace: String = "demo", vip: String, port: Int, targetPort: Int,
                    selector: [String: String]? = nil, portName: String = "tcp") throws {
        let selectorText = (selector ?? ["app": name]).map { "\($0.key): \($0.value)" }.joined(separator: ", ")
        try """
        apiVersion: v1
        kind: Service
        metadata: {name: \(name), namespace: \(namespace)}
        spec:
          clusterIP: \(vip)
          selector: {\(selectorText)}
          ports: [{name: \(portName), port: \(port), targetPort: \(targetPort)}]

        """.write(toFile: configDirectory + "/svc-\(name).yaml", atomically: true, encoding: .utf8)
    }

    /// Waits until every agent holds a valid certificate for each listed identity
    /// of its node.
    func waitForCertificates(timeout: Double = 20) -> Bool {
        poll(timeout: timeout, interval: 0.2) {
            agents.allSatisfy { agent in
                let result = try? agent.ctl(["certs", "-o", "json"])
                return result?.ok == true && (result?.stdout.contains("\"valid\"") ?? false)
            }
        }
    }

    func tearDown() { lab.tearDown() }
}

/// A pod of a `TestMesh`: processes run in its network namespace and in its
/// cgroup on its node, as a container's do (the node's agent captures them).
struct TestPod {
    let name: String
    let namespace: String
    let node: TestHost
    /// The pod's network namespace and address.
    let network: TestHost
    let cgroupChild: String

    var ipv4: String { network.ipv4 }

    func spawn(_ process: String, _ arguments: [String]) throws -> BackgroundProcess {
        try node.lab.spawn(process, namespace: network.namespace, cgroup: try node.cgroup(cgroupChild), arguments)
    }

    /// Runs a command to completion inside the pod, as `kubectl exec` does.
    func run(_ arguments: [String], timeout: Double = 120) throws -> Shell.Result {
        node.lab.run(namespace: network.namespace, cgroup: try node.cgroup(cgroupChild), arguments, timeout: timeout)
    }
}
