import CLibBPF
import FerryBPF
import FerryMesh
import FerryPolicy
import FerryTelemetry
import Foundation
import Logging
import Prometheus

/// The long-lived parts of one agent, for the admin and metrics endpoints to read.
public struct AgentParts: Sendable {
    public static let version = "0.1.0"

    let node: String
    /// The file source's directory; nil with the Kubernetes source.
    let configDirectory: String?
    let startedAt: Date
    let store: StateStore
    let watcher: any MeshSource
    let reconciler: DatapathReconciler
    let datapath: FerryDatapath
    let connections: ConnectionTable
    let registry: PrometheusCollectorRegistry
    let certificates: @Sendable () -> [AdminAPI.Certificate]
    let hbone: @Sendable () -> (pool: HBONEPool?, security: MeshTLSSecurity?)
    let policies: SecurityPolicyCache
    let readiness: Readiness
    let logger: Logger

    func status() -> AdminAPI.Status {
        let state = store.state
        let counters = KernelCounters.read(datapath.counters)
        let (pool, security) = hbone()
        var status = AdminAPI.Status(
            node: node, version: Self.version, uptimeSeconds: -startedAt.timeIntervalSinceNow,
            configGeneration: state.generation,
            configErrors: watcher.problems,
            datapathProblems: reconciler.problems.withLock { $0 },
            programsAttached: FerryDatapath.attachedPrograms(datapath.layout),
            enrolledWorkloads: reconciler.enrollment.all.values.map(\.key).sorted(),
            liveConnections: connections.count,
            connectionsOpened: connections.openedTotal.load(ordering: .relaxed),
            connectionsClosed: connections.closedTotal.load(ordering: .relaxed),
            kernelCounters: counters,
            certificates: certificates(),
            hboneConnectionsOpened: pool?.connectionsOpened.load(ordering: .relaxed) ?? 0,
            hboneConnections: pool?.connections() ?? [:],
            hboneRefusals: security?.refusalCounts() ?? [:]
        )
        status.configDirectory = configDirectory
        status.nodeAddress = state.nodes[node]?.agentAddress?.description
        status.waitingFor = readiness.waitingFor(meshStateGeneration: state.generation)
        status.notices = readiness.notices
        return status
    }

    func policyRoutes() -> PolicyRoutes {
        let state = store.state
        return PolicyRoutes(state: state, policies: policies.policies(for: state))
    }

    func configDump() -> AdminAPI.ConfigDump {
        let state = store.state
        let enrolled = Set(reconciler.enrollment.all.values.map(\.key))
        return AdminAPI.ConfigDump(
            generation: state.generation, node: node, config: state.config,
            nodes: state.nodes.values.sorted { $0.name < $1.name },
            workloads: state.workloads.map { workload in
                AdminAPI.WorkloadInfo(
                    key: workload.key, name: workload.name, namespace: workload.namespace, node: workload.node,
                    addresses: workload.addresses.map(\.description),
                    identity: workload.knownIdentity(trustDomain: state.config.trustDomain)?.uri ?? "unknown",
                    cgroup: workload.cgroup, enrolled: enrolled.contains(workload.key),
                    index: WorkloadIndex.of(workload), source: workload.source.rawValue, labels: workload.labels
                )
            },
            services: state.services.map { service in
                AdminAPI.ServiceInfo(
                    key: service.key, hostname: service.hostname(), vips: service.vips.map(\.description),
                    ports: service.ports.map { port in
                        "\(port.port)/\(port.name ?? "-")\(port.isHTTP ? " (http)" : "")"
                    },
                    endpoints: state.endpoints(of: service).map(\.key)
                )
            },
            resources: state.resources.map { "\($0.resource.key) (\($0.file):\($0.line))" },
            routes: RouteStatus.all(in: state),
            errors: watcher.problems
        )
    }

    /// Tunnel connections joined with the kernel's stats of their sockets: the
    /// workload's socket by its 4-tuple, ferryd's upstream socket by cookie.
    func connectionsView() -> [AdminAPI.Connection] {
        let kernel = KernelConnection.all(from: datapath)
        let byCookie = Dictionary(kernel.map { ($0.cookie, $0) }, uniquingKeysWith: { a, _ in a })
        let capturedByClient = Dictionary(
            kernel.filter { $0.kind == .captured }.map { ($0.local, $0) }, uniquingKeysWith: { a, _ in a }
        )
        return connections.all().map { record in
            let snapshot = record.snapshot
            return AdminAPI.Connection(
                tunnel: snapshot, ageSeconds: -record.startedAt.timeIntervalSinceNow,
                workloadSocket: record.client.flatMap { capturedByClient[$0] },
                upstreamSocket: byCookie[snapshot.upstreamCookie]
            )
        }
    }
}
