import FerryProxy
import Foundation

/// The suite's base manifests (conformance/mesh/manifests.yaml) on a
/// two-node Ferry mesh. Each Deployment's one pod is a pod of the lab: a
/// network namespace with its own address, so echo-v1 and echo-v2 both
/// listen on 8080 and 7070 as in a cluster. node1 runs echo-v1 of the mesh
/// namespace and echo-v1 of the consumer namespace, node2 runs echo-v2, so
/// requests cross nodes as well as stay on one. Every pod runs the echo
/// backend (`Tools/gammaecho.py`), and the suite's client (`kubectl exec`
/// into the pod) is `Tools/gammaclient.py` run inside it.
final class GAMMALab {
    let mesh: TestMesh
    let pods: [GAMMAClient: TestPod]

    /// Pod names as a Deployment names them: the backend check compares their prefix.
    static let podNames: [GAMMAClient: String] = [
        .v1: "echo-v1-7f6d9c5b8-q4w2x", .v2: "echo-v2-5b7c8d6f9-t2v8z", .consumer: "echo-v1-6c8d7b9f4-m3n5p",
    ]

    init() throws {
        mesh = try TestMesh("gamma")
        do {
            let (node1, node2) = (mesh.nodes[0], mesh.nodes[1])
            let mesh = self.mesh
            func pod(_ client: GAMMAClient, on node: TestHost, namespace: String, version: String) throws -> TestPod {
                try mesh.addPod(Self.podNames[client]!, on: node, namespace: namespace, labels: ["app": "echo", "version": version])
            }
            pods = [
                .v1: try pod(.v1, on: node1, namespace: GAMMASuite.namespace, version: "v1"),
                .consumer: try pod(.consumer, on: node1, namespace: GAMMASuite.consumerNamespace, version: "v1"),
                .v2: try pod(.v2, on: node2, namespace: GAMMASuite.namespace, version: "v2"),
            ]
            try Self.baseManifests.write(toFile: mesh.configDirectory + "/gamma-base.yaml", atomically: true, encoding: .utf8)
            for (client, pod) in pods {
                let echo = try pod.spawn("echo-\(client)", ["python3", Paths.tool("gammaecho.py"), "--name", pod.name])
                guard echo.waitForOutput("listening", timeout: 20) else { throw TestLab.LabError("echo \(pod.name): \(echo.stderr)") }
            }
            try mesh.start()
            // A certificate per identity: both namespaces' default account on node1, one on node2.
            let certified = poll(timeout: 30, interval: 0.2) {
                zip(mesh.agents, [2, 1]).allSatisfy { agent, wanted in
                    let certificates = (try? agent.ctlJSON(["certs"], as: [AdminAPI.Certificate].self)) ?? []
                    return certificates.filter { $0.state == "valid" }.count >= wanted
                }
            }
            guard certified else { throw TestLab.LabError("pods got no certificates") }
        } catch {
            mesh.tearDown()
            throw error
        }
    }

    func tearDown() { mesh.tearDown() }

    /// Namespaces and Services as the suite declares them, with VIPs written
    /// in; the Deployments are the pods above.
    static var baseManifests: String {
        let namespaces = [(GAMMASuite.namespace, "mesh"), (GAMMASuite.consumerNamespace, "mesh-consumer")].map { name, label in
            "apiVersion: v1\nkind: Namespace\nmetadata: {name: \(name), labels: {gateway-conformance: \(label)}}\n"
        }
        let services = [("echo-v1", "{app: echo, version: v1}"), ("echo-v2", "{app: echo, version: v2}"), ("echo", "{app: echo}")]
            .map { name, selector in
                // The echo Service's grpc port says h2c; echo-v1's and echo-v2's have only the name.
                let grpcProtocol = name == "echo" ? ", appProtocol: kubernetes.io/h2c" : ""
                return """
                apiVersion: v1
                kind: Service
                metadata: {name: \(name), namespace: \(GAMMASuite.namespace)}
                spec:
                  clusterIP: \(GAMMASuite.vips[name]!)
                  selector: \(selector)
                  ports:
                  - {name: http, port: 80, appProtocol: http, targetPort: 8080}
                  - {name: http-alt, port: 8080, appProtocol: http}
                  - {name: https, port: 443, targetPort: 8443}
                  - {name: tcp, port: 9090}
                  - {name: grpc, port: 7070\(grpcProtocol)}

                """
            }
        return (namespaces + services).joined(separator: "---\n")
    }

    struct CaseResult: Decodable {
        var name: String
        var passed: Bool
        var attempts: Int
        var failure: String?
    }

    struct Outcome {
        var results: [CaseResult]
        /// Each route of the test and its conditions, as `ferryctl routes` shows them.
        var routes: [String: [String: String]]
    }

    /// Applies the test's manifests, runs its cases from each client pod,
    /// reads route status, and removes the manifests again (as the suite
    /// deletes a test's resources after it).
    func run(_ test: GAMMATest, whileApplied: () -> Void = {}) throws -> Outcome {
        let file = "gamma-test.yaml"
        if !test.manifests.isEmpty { try apply(test.manifests, file: file) }
        defer { if !test.manifests.isEmpty { try? apply(nil, file: file) } }
        let routes = try routeConditions()
        whileApplied()
        var results: [CaseResult] = []
        for client in GAMMAClient.allCases {
            let cases = test.cases.filter { $0.client == client }
            let weights = test.weights.filter { $0.client == client }
            if cases.isEmpty && weights.isEmpty { continue }
            let plan = mesh.lab.logDirectory + "/plan-\(test.name)-\(client).json"
            struct Plan: Encodable { var cases: [GAMMACase]; var weights: [GAMMAWeights] }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            let json = String(decoding: try encoder.encode(Plan(cases: cases, weights: weights)), as: UTF8.self)
                .replacingOccurrences(of: "ECHO_V2_POD", with: pods[.v2]!.ipv4)
            try json.write(toFile: plan, atomically: true, encoding: .utf8)
            let answer = try pods[client]!.run(["python3", Paths.tool("gammaclient.py"), plan], timeout: 600)
            let lines = answer.stdout.split(separator: "\n").compactMap {
                try? JSONDecoder().decode(CaseResult.self, from: Data($0.utf8))
            }
            guard lines.count == cases.count + weights.count else {
                throw TestLab.LabError("\(test.name) from \(client): \(answer.output)")
            }
            results += lines
        }
        return Outcome(results: results, routes: routes)
    }

    /// Writes (or with nil removes) a file of the shared configuration
    /// directory and waits until both agents hold the new generation.
    func apply(_ yaml: String?, file: String) throws {
        let before = try mesh.agents.map { try $0.ctlJSON(["status"], as: AdminAPI.Status.self).configGeneration }
        let path = mesh.configDirectory + "/" + file
        if let yaml { try yaml.write(toFile: path, atomically: true, encoding: .utf8) } else { try FileManager.default.removeItem(atPath: path) }
        var errors: [String] = []
        let applied = poll(timeout: 10, interval: 0.05) {
            zip(mesh.agents, before).allSatisfy { agent, generation in
                guard let status = try? agent.ctlJSON(["status"], as: AdminAPI.Status.self) else { return false }
                errors = status.configErrors
                return status.configGeneration > generation
            }
        }
        guard applied, errors.isEmpty else { throw TestLab.LabError("\(file) not applied: \(errors)") }
    }

    /// "Kind ns/name" → "Accepted" / "ResolvedRefs" → "True (Accepted)", from node1's `ferryctl routes`.
    func routeConditions() throws -> [String: [String: String]] {
        struct Answer: Decodable {
            struct Route: Decodable { var kind, namespace, name: String; var parents: [Parent] }
            struct Parent: Decodable { var conditions: [Condition] }
            struct Condition: Decodable { var type, status, reason, message: String }
            var routes: [Route]
        }
        let answer = try mesh.agents[0].ctlJSON(["routes"], as: Answer.self)
        var table: [String: [String: String]] = [:]
        for route in answer.routes {
            for condition in route.parents.flatMap(\.conditions) {
                table["\(route.kind) \(route.namespace)/\(route.name)", default: [:]][condition.type] =
                    "\(condition.status) (\(condition.reason))" + (condition.status == "True" && condition.type != "PartiallyInvalid" ? "" : ": " + condition.message)
            }
        }
        return table
    }
}
