import FerryBPF
import FerryMesh
import Foundation
import Logging
import NIOCore

/// Everything an agent needs to start, with the defaults of DESIGN.md §4.
public struct AgentConfiguration: Sendable {
    public var node: String
    public var configDirectory: String
    public var datapath: DatapathLayout
    /// Load-time choices: the close-event ring buffer's size, whether close records are written.
    public var datapathSettings = DatapathSettings()
    /// The cgroup2 mount; workload cgroup paths are relative to it.
    public var cgroupMount: String
    public var adminHost = "127.0.0.1"
    public var adminPort = 15000
    /// Metrics and readiness on every address of both families ("::" falls
    /// back to 0.0.0.0 on a kernel without IPv6), so an IPv6-only node is scraped too.
    public var metricsHost = "::"
    public var metricsPort = 15020
    public var readinessPort = 15021
    public var outboundPort = 15001
    /// Where workload certificates come from.
    public var identity: Identity = .none
    public var hbonePort = 15008
    /// `--log-level`: the level from start, ahead of the MeshConfig's, until
    /// the MeshConfig's level is edited.
    public var logLevel: Logger.Level?

    public enum Identity: Sendable {
        /// No CA: capture and passthrough only; mesh destinations on other nodes fail.
        case none
        /// `ferryd ca` at HOST:PORT, authenticated with the node credential in a directory.
        case remote(address: String, credentials: String)
        /// `ferryd ca` at HOST:PORT, authenticated with a bearer token (a projected
        /// service-account token: `token` is called for every request, as the
        /// kubelet rotates it); the node credential comes from the CA as well.
        /// `root`: the mesh root certificate (PEM file) the CA must chain to.
        case remoteToken(address: String, root: String, token: @Sendable () throws -> String)
        /// A CA in process, from (or created in) a directory: one command, one host.
        case embedded(caDirectory: String)
    }

    /// Event loops carrying traffic: one per two cores (at least one), since
    /// the agent shares its node with the workloads it serves, and one TLS
    /// connection per (source identity, node) puts each pair's tunnel on one
    /// loop anyway. On the 2-vCPU bench machine one loop carried as many
    /// requests and bytes as two, with a fifth less CPU per request (no
    /// thread hop between a client connection and its tunnel).
    /// FERRY_DATA_THREADS overrides.
    public var dataThreads: Int = Int(ProcessInfo.processInfo.environment["FERRY_DATA_THREADS"] ?? "")
        ?? max(1, System.coreCount / 2)

    /// How often live connections' byte counts reach the metrics.
    public var metricsFlushInterval: Duration = .seconds(1)

    public init(node: String, configDirectory: String, datapath: DatapathLayout, cgroupMount: String) {
        self.node = node
        self.configDirectory = configDirectory
        self.datapath = datapath
        self.cgroupMount = cgroupMount
    }
}
