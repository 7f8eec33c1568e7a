import FerryMesh
import FerryPolicy
import FerryTelemetry
import Foundation

/// The admin API's JSON shapes (127.0.0.1:15000), shared by ferryd and ferryctl.
public enum AdminAPI {
    public struct Status: Codable, Sendable {
        public var node: String
        public var version: String
        public var uptimeSeconds: Double
        public var configGeneration: Int
        public var configErrors: [String]
        public var datapathProblems: [String]
        public var programsAttached: [String: Bool]
        public var enrolledWorkloads: [String]
        public var liveConnections: Int
        public var connectionsOpened: UInt64
        public var connectionsClosed: UInt64
        public var kernelCounters: [String: UInt64]
        public var certificates: [Certificate]
        /// HBONE connections opened to other nodes since start, and those open now
        /// ("source → node": streams).
        public var hboneConnectionsOpened: Int
        public var hboneConnections: [String: Int]
        /// Refused HBONE peers by reason (noCertificate, expired, untrustedIssuer, …).
        public var hboneRefusals: [String: Int]
        /// The file source's directory; nil with the Kubernetes source.
        public var configDirectory: String?
        /// This node's InternalIP, from its Node resource.
        public var nodeAddress: String?
        /// What readiness (:15021) still waits for; empty when ready.
        public var waitingFor: [String]?
        /// What the agent skipped without failing (a listener of an address
        /// family the node lacks), one line each.
        public var notices: [String]?

        public init(node: String, version: String, uptimeSeconds: Double, configGeneration: Int, configErrors: [String],
                    datapathProblems: [String], programsAttached: [String: Bool], enrolledWorkloads: [String],
                    liveConnections: Int, connectionsOpened: UInt64, connectionsClosed: UInt64,
                    kernelCounters: [String: UInt64], certificates: [Certificate], hboneConnectionsOpened: Int = 0,
                    hboneConnections: [String: Int] = [:], hboneRefusals: [String: Int] = [:]) {
            self.node = node
            self.version = version
            self.uptimeSeconds = uptimeSeconds
            self.configGeneration = configGeneration
            self.configErrors = configErrors
            self.datapathProblems = datapathProblems
            self.programsAttached = programsAttached
            self.enrolledWorkloads = enrolledWorkloads
            self.liveConnections = liveConnections
            self.connectionsOpened = connectionsOpened
            self.connectionsClosed = connectionsClosed
            self.kernelCounters = kernelCounters
            self.certificates = certificates
            self.hboneConnectionsOpened = hboneConnectionsOpened
            self.hboneConnections = hboneConnections
            self.hboneRefusals = hboneRefusals
        }
    }

    /// A tunnel connection joined with the kernel's view of its sockets.
    public struct Connection: Codable, Sendable {
        public var tunnel: ConnectionRecord.Snapshot
        public var ageSeconds: Double
        /// The workload's captured socket (outbound) — bytes and RTT as the kernel sees them.
        public var workloadSocket: KernelConnection?
        /// ferryd's socket toward the destination.
        public var upstreamSocket: KernelConnection?
    }

    public struct WorkloadInfo: Codable, Sendable {
        public var key: String
        public var name: String
        public var namespace: String
        public var node: String?
        public var addresses: [String]
        public var identity: String
        public var cgroup: String?
        public var enrolled: Bool
        public var index: UInt32
        public var source: String
        public var labels: [String: String]
    }

    public struct ServiceInfo: Codable, Sendable {
        public var key: String
        public var hostname: String
        public var vips: [String]
        public var ports: [String]
        public var endpoints: [String]
    }

    public struct Certificate: Codable, Sendable {
        public var identity: String
        public var serial: String
        public var notBefore: Date
        public var notAfter: Date
        public var state: String
        public var rotations: Int

        public init(identity: String, serial: String, notBefore: Date, notAfter: Date, state: String, rotations: Int) {
            self.identity = identity
            self.serial = serial
            self.notBefore = notBefore
            self.notAfter = notAfter
            self.state = state
            self.rotations = rotations
        }
    }

    public struct ConfigDump: Codable, Sendable {
        public var generation: Int
        public var node: String
        public var config: MeshConfig
        public var nodes: [MeshNode]
        public var workloads: [WorkloadInfo]
        public var services: [ServiceInfo]
        public var resources: [String]
        /// Each HTTPRoute's and GRPCRoute's status, as `/routes` gives it.
        public var routes: [RouteStatus]
        public var errors: [String]
    }

    /// `/routes`: each route's conditions per parent, and the configuration
    /// errors (a file refused keeps its last good routes in force).
    public struct Routes: Codable, Sendable {
        public var routes: [RouteStatus]
        public var configErrors: [String]

        public init(routes: [RouteStatus], configErrors: [String]) {
            self.routes = routes
            self.configErrors = configErrors
        }
    }

    public struct LogLevel: Codable, Sendable {
        public var level: String
        public init(level: String) { self.level = level }
    }
}

extension AdminAPI {
    /// A security policy and what it applies to.
    public struct PolicyInfo: Codable, Sendable {
        public var kind: String
        public var namespace: String
        public var name: String
        /// ALLOW / DENY / AUDIT, or the mTLS mode of a PeerAuthentication.
        public var action: String
        public var scope: String
        public var workloads: [String]
        public var rules: Int
    }

    /// `ferryctl policies check`: what the engine decides, and which policy decided.
    public struct PolicyCheck: Codable, Sendable {
        public var allowed: Bool
        public var policy: String?
        public var action: String?
        public var reason: String
        public var source: String
        public var destination: String
        public var peerAuthentication: String
    }
}
