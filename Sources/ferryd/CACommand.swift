import ArgumentParser
import FerryIdentity
import FerryKubernetes
import FerryMesh
import FerryProxy
import FerryTelemetry
import Foundation
import Logging
import NIOPosix
import ServiceLifecycle

/// `ferryd ca`: the mesh CA service. Node agents present their node credential
/// (or, with --kubernetes, a projected service-account token checked by
/// TokenReview) and get certificates for the workloads the mesh state places
/// on their node. Runs until SIGTERM/SIGINT.
struct CACommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ca", abstract: "Run the mesh CA: sign workload certificates for node agents (TLS, :15012)."
    )

    @Option(name: .customLong("ca-dir"), help: "Directory of the root CA (from `ferryctl ca init`).")
    var caDirectory: String

    @Option(name: .customLong("config-dir"), help: "Directory of mesh YAML: which workloads run on which node.")
    var configDirectory: String?

    @OptionGroup var kubernetes: KubernetesOptions

    @Option(help: "With --kubernetes: the audience agents' projected tokens are made for.")
    var tokenAudience: String = TokenReviewAuthenticator.defaultAudience

    @Option(help: "With --kubernetes: the agents' service account, NAMESPACE/NAME; only its tokens are accepted.")
    var agentServiceAccount: String = "ferry-system/ferry-agent"

    @Option(help: "Address to listen on, HOST:PORT.")
    var listen: String = "[::]:\(CAProtocol.defaultPort)"

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String?

    func run() async throws {
        FerryLogging.bootstrap(level: logLevel.map(parseLogLevel) ?? .info)
        let logger = Logger(label: "ferryd.ca")
        guard let (host, port) = CAProtocol.split(address: listen) else { fail("--listen '\(listen)' is not HOST:PORT") }
        let authority: CertificateAuthority
        do { authority = try CertificateAuthority.load(directory: caDirectory) } catch { fail("\(error)") }
        let mesh: CAMeshSource
        switch (configDirectory, kubernetes.enabled) {
        case (nil, false): fail("give --config-dir DIR (the file source) or --kubernetes / --kubeconfig PATH")
        case (_?, true): fail("--config-dir and --kubernetes/--kubeconfig are two sources; choose one")
        case (let directory?, false): mesh = try fileSource(directory, authority: authority, logger: logger)
        case (nil, true): mesh = try kubernetesSource(logger: logger)
        }

        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let server: CAServer
        do {
            server = try CAServer(authority: authority, state: mesh.state, bearer: mesh.bearer,
                                  revocations: NodeRevocationList(directory: caDirectory, logger: logger), host: host, port: port,
                                  group: group, logger: logger)
        } catch {
            fail("cannot start the CA on \(listen): \(error)")
        }
        let listener = CAListener(server: server, ready: mesh.ready, logger: logger, metadata: [
            "ferry.listen": "\(listen)", "ferry.trust_domain": "\(authority.trustDomain)",
            "ferry.root_serial": "\(authority.root.serialHex)", "ferry.tokens": "\(mesh.bearer == nil ? "no" : "TokenReview")",
        ])
        let services = ServiceGroup(configuration: .init(
            services: mesh.services.map { .init(service: $0) } + [.init(service: listener)],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        ))
        try await services.run()
        await mesh.finish()
        try? await group.shutdownGracefully()
        logger.info("ferryd ca stopped")
    }

    private func fileSource(_ directory: String, authority: CertificateAuthority, logger: Logger) throws -> CAMeshSource {
        guard FileManager.default.fileExists(atPath: directory) else {
            fail("configuration directory \(directory) does not exist")
        }
        // The same watcher the agent uses, polled a little less often.
        let store = StateStore()
        let watcher = ConfigWatcher(directory: directory, store: store, logger: logger, interval: .milliseconds(500))
        watcher.reloadNow()
        let meshTrustDomain = store.state.config.trustDomain
        if meshTrustDomain != authority.trustDomain {
            logger.warning("the CA's trust domain \(authority.trustDomain) differs from the mesh's \(meshTrustDomain); every request will be refused until they match")
        }
        return CAMeshSource(state: { store.state }, bearer: nil, services: [watcher], ready: {}, finish: { store.finish() })
    }

    /// Every node's pods from the API server, and TokenReview for agents' tokens.
    private func kubernetesSource(logger: Logger) throws -> CAMeshSource {
        let parts = agentServiceAccount.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
            fail("--agent-service-account '\(agentServiceAccount)' is not NAMESPACE/NAME")
        }
        let client: KubernetesClient
        do { client = try KubernetesClient(credentials: kubernetes.credentials()) } catch { fail("\(error)") }
        let kinds = KubernetesKind.caKinds(meshConfigNamespace: kubernetes.meshNamespace)
        let source = KubernetesSource(client: client, node: nil, publish: { _ in }, logger: logger,
                                      options: .init(meshConfigNamespace: kubernetes.meshNamespace, kinds: kinds))
        let reviewer = TokenReviewAuthenticator(
            client: client, audience: tokenAudience,
            serviceAccount: ServiceAccountName(namespace: String(parts[0]), name: String(parts[1])), logger: logger)
        return CAMeshSource(
            state: { source.state ?? .empty }, bearer: CachedBearerAuthenticator(reviewer), services: [source],
            ready: {
                // Listen only once every kind is listed: before that every
                // request would be refused for want of workloads.
                logger.info("reading the mesh from the API server before listening")
                _ = await cancelWhenGracefulShutdown { await source.firstState() }
            },
            finish: { try? await client.shutdown() })
    }
}

/// Where the CA's mesh state comes from, and how tokens are checked.
private struct CAMeshSource {
    var state: @Sendable () -> MeshState
    var bearer: (any BearerAuthenticator)?
    var services: [any Service]
    /// Returns when the state is worth serving from.
    var ready: @Sendable () async -> Void
    var finish: () async -> Void
}

/// Binds the CA once its mesh state is ready, then serves until shutdown.
private struct CAListener: Service {
    let server: CAServer
    let ready: @Sendable () async -> Void
    let logger: Logger
    let metadata: Logger.Metadata

    func run() async throws {
        await ready()
        if Task.isShuttingDownGracefully { return }
        let port: Int
        do { port = try await server.start() } catch { fail("cannot start the CA: \(error)") }
        var metadata = metadata
        metadata["ferry.port"] = "\(port)"
        logger.info("ferryd ca up", metadata: metadata)
        try await server.run()
    }
}
