import ArgumentParser
import FerryBPF
import FerryKubernetes
import FerryProxy
import FerryTelemetry
import Foundation
import Logging

@main
struct Ferryd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ferryd",
        abstract: "Ferry's node agent: eBPF capture plus the L4/L7 mTLS tunnel.",
        subcommands: [AgentCommand.self, CACommand.self],
        defaultSubcommand: AgentCommand.self
    )
}

struct AgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent", abstract: "Run the node agent (the default)."
    )

    @Option(name: .customLong("config-dir"), help: "Directory of mesh YAML (the file source).")
    var configDirectory: String?

    @OptionGroup var kubernetes: KubernetesOptions

    @Option(help: "This node's name (as in Node resources and ferry.dev/node).")
    var node: String = ProcessInfo.processInfo.environment["NODE_NAME"] ?? ProcessInfo.processInfo.hostName

    @OptionGroup var datapath: DatapathOptions

    @Option(help: "Admin API port on 127.0.0.1.")
    var adminPort: Int = 15000

    @Option(help: "The CA (`ferryd ca`) as HOST:PORT; needs --credentials, or --ca-token with --ca-root.")
    var caAddress: String?

    @Option(help: "Directory with this node's credential (from `ferryctl ca issue-node`).")
    var credentials: String?

    @Option(help: "Token file to present to the CA instead of a credential (a projected service account token, re-read for every request); the CA then issues the node credential.")
    var caToken: String?

    @Option(help: "With --ca-token: the mesh root certificate (PEM) the CA's certificate must chain to.")
    var caRoot: String?

    @Option(name: .customLong("embedded-ca"), help: "Run the CA in process from this directory (created if empty): a one-host mesh.")
    var embeddedCA: String?

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String?

    func run() async throws {
        let level = logLevel.map(parseLogLevel)
        FerryLogging.bootstrap(level: level ?? .info)
        var logger = Logger(label: "ferryd")
        logger[metadataKey: "ferry.node"] = "\(node)"
        try requireCapabilities()
        raiseOpenFileLimit(logger: logger)
        let kubernetesSource = kubernetes.enabled
        switch (configDirectory, kubernetesSource) {
        case (nil, false): fail("give --config-dir DIR (the file source) or --kubernetes / --kubeconfig PATH")
        case (_?, true): fail("--config-dir and --kubernetes/--kubeconfig are two sources; choose one")
        case (let directory?, false):
            guard FileManager.default.fileExists(atPath: directory) else { fail("configuration directory \(directory) does not exist") }
        default: break
        }
        let layout: DatapathLayout
        do { layout = try datapath.layout() } catch { fail("\(error)") }
        var configuration = AgentConfiguration(
            node: node, configDirectory: configDirectory ?? "", datapath: layout, cgroupMount: CgroupFS.mountPoint() ?? "/sys/fs/cgroup"
        )
        configuration.datapathSettings = datapath.settings()
        configuration.adminPort = adminPort
        configuration.logLevel = level
        configuration.identity = identityMode()
        do {
            if kubernetesSource {
                let store = StateStore()
                let source = try kubernetes.source(node: node, store: store, logger: logger)
                do {
                    try await Agent.run(configuration, store: store, source: source, logger: logger)
                } catch {
                    // AsyncHTTPClient traps if its client is dropped without a shutdown,
                    // which would hide the reason the agent stopped.
                    try? await source.client.shutdown()
                    throw error
                }
            } else {
                try await Agent.run(configuration, logger: logger)
            }
        } catch let error as BPFError {
            fail(error.description)
        } catch {
            fail("\(error)")
        }
    }
}

extension AgentCommand {
    /// Where workload certificates come from: no CA, the CA with a node
    /// credential, the CA with a token (and the root to check it by), or in process.
    func identityMode() -> AgentConfiguration.Identity {
        if (caToken == nil) != (caRoot == nil) { fail("--ca-token and --ca-root go together") }
        let token = caToken.flatMap { path in caRoot.map { (path, $0) } }
        switch (caAddress, credentials, token, embeddedCA) {
        case (nil, nil, nil, nil):
            return .none
        case (let address?, let directory?, nil, nil):
            return .remote(address: address, credentials: directory)
        case (let address?, nil, let (tokenPath, root)?, nil):
            let file = BearerToken.file(tokenPath)
            return .remoteToken(address: address, root: root, token: { try file.current() })
        case (nil, nil, nil, let directory?):
            return .embedded(caDirectory: directory)
        case (_?, nil, nil, nil), (nil, _, _, nil):
            fail("--ca-address goes with --credentials DIR, or with --ca-token FILE and --ca-root FILE")
        case (_?, _?, _?, nil):
            fail("--credentials and --ca-token are two ways to authenticate to the CA; choose one")
        default:
            fail("use either --ca-address (with its credential) or --embedded-ca, not both")
        }
    }
}

/// Where the BPF side lives; shared by every command that loads or reads it.
struct DatapathOptions: ParsableArguments {
    @Option(help: "bpffs directory for Ferry's pinned maps and links (default /sys/fs/bpf/ferry).")
    var pinDir: String?

    @Option(help: "cgroup to attach the programs to (default: the cgroup2 mount, i.e. the whole host).")
    var cgroupRoot: String?

    @Option(help: "Directory of compiled BPF objects (default: $FERRY_BPF_DIR, /usr/lib/ferry/bpf, or BPF/build of the source tree).")
    var bpfObjects: String?

    @Option(help: "Size of the kernel's close-event ring buffer in bytes: a power of two, at least a page.")
    var eventBufferBytes: UInt64 = UInt64(DatapathSettings().eventBufferBytes)

    @Flag(help: "Write no close records (to measure what they cost; per-connection kernel metrics then come from the 1 s sampler only).")
    var noCloseEvents = false

    func layout() throws -> DatapathLayout {
        try DatapathLayout.resolve(pinDirectory: pinDir, cgroupRoot: cgroupRoot, objectDirectory: bpfObjects)
    }

    func settings() -> DatapathSettings {
        if let problem = DatapathSettings.problem(eventBufferBytes: eventBufferBytes) { fail("--event-buffer-bytes: \(problem)") }
        return DatapathSettings(eventBufferBytes: UInt32(eventBufferBytes), closeEvents: !noCloseEvents)
    }
}

/// Root, or the three capabilities the datapath takes (a container granted
/// just those, say).
func requireCapabilities() throws {
    let missing = Capabilities.missing()
    if !missing.isEmpty {
        fail("missing \(missing.joined(separator: ", ")): loading BPF programs needs CAP_BPF, CAP_NET_ADMIN and CAP_SYS_ADMIN (run as root)")
    }
}

/// `--log-level`'s value, or exit naming the accepted ones.
func parseLogLevel(_ name: String) -> Logger.Level {
    guard let level = Logger.Level(rawValue: name) else {
        fail("--log-level '\(name)' is not one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", "))")
    }
    return level
}

/// One clear line on stderr, exit 1.
func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("ferryd: \(message)\n".utf8))
    exit(1)
}
