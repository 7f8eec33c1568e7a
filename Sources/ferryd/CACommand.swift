import ArgumentParser
import FerryIdentity
import FerryMesh
import FerryProxy
import FerryTelemetry
import Foundation
import Logging
import NIOPosix
import ServiceLifecycle

/// `ferryd ca`: the mesh CA service. Node agents present their node credential
/// and get certificates for the workloads the configuration places on their
/// node. Runs until SIGTERM/SIGINT.
struct CACommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ca", abstract: "Run the mesh CA: sign workload certificates for node agents (mTLS, :15012)."
    )

    @Option(name: .customLong("ca-dir"), help: "Directory of the root CA (from `ferryctl ca init`).")
    var caDirectory: String

    @Option(name: .customLong("config-dir"), help: "Directory of mesh YAML: which workloads run on which node.")
    var configDirectory: String

    @Option(help: "Address to listen on, HOST:PORT.")
    var listen: String = "0.0.0.0:\(CAProtocol.defaultPort)"

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String?

    func run() async throws {
        FerryLogging.bootstrap(level: logLevel.flatMap(Logger.Level.init(rawValue:)) ?? .info)
        let logger = Logger(label: "ferryd.ca")
        guard let (host, port) = CAProtocol.split(address: listen) else { fail("--listen '\(listen)' is not HOST:PORT") }
        guard FileManager.default.fileExists(atPath: configDirectory) else {
            fail("configuration directory \(configDirectory) does not exist")
        }
        let authority: CertificateAuthority
        do { authority = try CertificateAuthority.load(directory: caDirectory) } catch { fail("\(error)") }

        // The same watcher the agent uses, polled a little less often.
        let store = StateStore()
        let watcher = ConfigWatcher(directory: configDirectory, store: store, logger: logger, interval: .milliseconds(500))
        watcher.reloadNow()
        let meshTrustDomain = store.state.config.trustDomain
        if meshTrustDomain != authority.trustDomain {
            logger.warning("the CA's trust domain \(authority.trustDomain) differs from the mesh's \(meshTrustDomain); every request will be refused until they match")
        }

        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let server: CAServer
        let boundPort: Int
        do {
            server = try CAServer(authority: authority, state: { store.state }, host: host, port: port,
                                  group: group, logger: logger)
            boundPort = try await server.start()
        } catch {
            fail("cannot start the CA on \(listen): \(error)")
        }
        let services = ServiceGroup(configuration: .init(
            services: [.init(service: watcher), .init(service: server)],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        ))
        logger.info("ferryd ca up", metadata: [
            "ferry.listen": "\(host):\(boundPort)", "ferry.trust_domain": "\(authority.trustDomain)",
            "ferry.root_serial": "\(authority.root.serialHex)",
        ])
        try await services.run()
        store.finish()
        try? await group.shutdownGracefully()
        logger.info("ferryd ca stopped")
    }
}
