import ArgumentParser
import FerryKubernetes
import FerryMesh
import FerryProxy
import Foundation
import Logging
import ServiceLifecycle

/// The Kubernetes source: the API server instead of a directory.
struct KubernetesOptions: ParsableArguments {
    @Flag(help: "Read the mesh from the API server with the in-cluster service account.")
    var kubernetes = false

    @Option(help: "Read the mesh from the API server named in this kubeconfig (development).")
    var kubeconfig: String?

    @Option(help: "The kubeconfig context (default: its current-context).")
    var kubeContext: String?

    @Option(help: "Namespace of the ferry-mesh ConfigMap (default: ferry-system).")
    var meshNamespace: String = "ferry-system"

    var enabled: Bool { kubernetes || kubeconfig != nil }

    func credentials() throws -> ClusterCredentials {
        if let kubeconfig { return try Kubeconfig.load(path: kubeconfig).credentials(context: kubeContext) }
        return try ClusterCredentials.inCluster(environment: ProcessInfo.processInfo.environment)
    }

    func source(node: String, store: StateStore, logger: Logger) throws -> KubernetesMeshSource {
        let client = try KubernetesClient(credentials: credentials())
        let source = KubernetesSource(client: client, node: node, publish: { store.publish($0) }, logger: logger,
                                      options: .init(meshConfigNamespace: meshNamespace))
        return KubernetesMeshSource(source: source, client: client)
    }
}

/// KubernetesSource as the agent's mesh source.
final class KubernetesMeshSource: MeshSource {
    let source: KubernetesSource
    let client: KubernetesClient

    init(source: KubernetesSource, client: KubernetesClient) {
        self.source = source
        self.client = client
    }

    func run() async throws {
        try await source.run()
        try? await client.shutdown()
    }

    /// The lists take a moment; the agent waits at generation 0 meanwhile.
    func prime() {}
    var problems: [String] { source.problems.map(\.description) }
    var reloadCounts: (success: Int, failure: Int) { (source.state?.generation ?? 0, source.problems.count) }
}
