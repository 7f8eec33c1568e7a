import ArgumentParser
import FerryBPF
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

    @Option(help: "The CA (`ferryd ca`) as HOST:PORT; needs --credentials.")
    var caAddress: String?

    @Option(help: "Directory with this node's credential (from `ferryctl ca issue-node`).")
    var credentials: String?

    @Option(name: .customLong("embedded-ca"), help: "Run the CA in process from this directory (created if empty): a one-host mesh.")
    var embeddedCA: String?

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String?

    func run() async throws {
        FerryLogging.bootstrap(level: logLevel.flatMap(Logger.Level.init(rawValue:)) ?? .info)
        var logger = Logger(label: "ferryd")
        logger[metadataKey: "ferry.node"] = "\(node)"
        try requireRoot()
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
        configuration.adminPort = adminPort
        switch (caAddress, credentials, embeddedCA) {
        case (nil, nil, nil):
            configuration.identity = .none
        case (let address?, let directory?, nil):
            configuration.identity = .remote(address: address, credentials: directory)
        case (nil, nil, let directory?):
            configuration.identity = .embedded(caDirectory: directory)
        case (_?, nil, nil), (nil, _?, nil):
            fail("--ca-address and --credentials go together")
        default:
            fail("use either --ca-address with --credentials, or --embedded-ca, not both")
        }
        do {
            if kubernetesSource {
                let store = StateStore()
                let source = try kubernetes.source(node: node, store: store, logger: logger)
                try await Agent.run(configuration, store: store, source: source, logger: logger)
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

/// Where the BPF side lives; shared by every command that loads or reads it.
struct DatapathOptions: ParsableArguments {
    @Option(help: "bpffs directory for Ferry's pinned maps and links (default /sys/fs/bpf/ferry).")
    var pinDir: String?

    @Option(help: "cgroup to attach the programs to (default: the cgroup2 mount, i.e. the whole host).")
    var cgroupRoot: String?

    @Option(help: "Directory of compiled BPF objects (default: $FERRY_BPF_DIR, /usr/lib/ferry/bpf, or BPF/build of the source tree).")
    var bpfObjects: String?

    func layout() throws -> DatapathLayout {
        try DatapathLayout.resolve(pinDirectory: pinDir, cgroupRoot: cgroupRoot, objectDirectory: bpfObjects)
    }
}

func requireRoot() throws {
    if geteuid() != 0 {
        fail("must run as root: loading BPF programs needs CAP_BPF, CAP_NET_ADMIN and CAP_SYS_ADMIN")
    }
}

/// One clear line on stderr, exit 1.
func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("ferryd: \(message)\n".utf8))
    exit(1)
}
