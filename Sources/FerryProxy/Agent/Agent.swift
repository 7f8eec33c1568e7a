import FerryBPF
import FerryHTTP
import FerryMesh
import FerryPolicy
import FerryTelemetry
import Foundation
import Logging
import NIOCore
import NIOPosix
import Prometheus
import ServiceLifecycle

/// One node agent: the configuration watcher, the BPF datapath and its
/// reconciler, the proxy listeners and the control endpoints, run as one
/// `ServiceGroup` that drains on SIGTERM/SIGINT. Pinned programs stay in place
/// when it exits.
public enum Agent {
    /// Runs with the file source of `configuration.configDirectory`.
    public static func run(_ configuration: AgentConfiguration, logger: Logger) async throws {
        let store = StateStore()
        let watcher = ConfigWatcher(directory: configuration.configDirectory, store: store, logger: logger)
        try await run(configuration, store: store, source: watcher, logger: logger)
    }

    /// Runs with any source that publishes into `store`.
    public static func run(_ configuration: AgentConfiguration, store: StateStore, source watcher: any MeshSource,
                           logger: Logger) async throws {
        watcher.prime()
        let initialConfig = store.state.config
        FerryLogging.setLevel(configuration.logLevel ?? Logger.Level(rawValue: initialConfig.logLevel) ?? .info)

        LibBPFLog.install(logger: Logger(label: "ferry.libbpf"))
        let datapath = try FerryDatapath.install(configuration.datapath, settings: configuration.datapathSettings, logger: logger)
        let enrollment = EnrollmentTable()
        let policies = SecurityPolicyCache()
        let listenerPairs = InboundListenerPairs()
        let reconciler = DatapathReconciler(
            datapath: datapath, store: store, node: configuration.node,
            cgroupMount: configuration.cgroupMount, enrollment: enrollment, policies: policies,
            listenerPairs: listenerPairs, logger: logger
        )
        if store.state.generation > 0 { reconciler.reconcile(store.state) }

        let registry = PrometheusCollectorRegistry()
        let connections = ConnectionTable(metrics: TCPMetrics(registry: registry))
        let accessLog = AccessLog(enabled: initialConfig.accessLog)
        var context = ProxyContext(
            node: configuration.node, store: store, enrollment: enrollment, connections: connections,
            accessLog: accessLog, policyMetrics: PolicyMetrics(registry: registry), policies: policies, logger: logger
        )

        let tracer = RequestTracer(node: configuration.node, logger: logger)
        tracer.apply(initialConfig.tracing)
        context.tracer = tracer

        let dataGroup = MultiThreadedEventLoopGroup(numberOfThreads: configuration.dataThreads)
        let controlGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var meshServices: [any Service] = []
        let identity = try await AgentIdentity.make(configuration.identity, node: configuration.node, store: store,
                                              group: controlGroup, logger: logger)
        if let identity {
            let pool = HBONEPool(group: dataGroup, security: identity.security, logger: logger, sockets: connections.sockets)
            context.hbonePool = pool
            context.l7 = L7Proxy(context: context, metrics: HTTPMetrics(registry: registry))
            meshServices = identity.services + [
                HBONEServer(context: context, group: dataGroup, security: identity.security, port: configuration.hbonePort),
                PeriodicTask(interval: .seconds(10)) { pool.closeIdle(after: .seconds(30)) },
            ]
        } else {
            logger.notice("no CA configured (--ca-address or --embedded-ca): capture and passthrough only")
        }
        let parts = AgentParts(
            node: configuration.node, configDirectory: configuration.configDirectory.isEmpty ? nil : configuration.configDirectory,
            startedAt: Date(), store: store, watcher: watcher, reconciler: reconciler,
            datapath: datapath, connections: connections, registry: registry,
            certificates: { identity?.statuses() ?? [] },
            hbone: { [pool = context.hbonePool] in (pool, identity?.security) }, policies: policies,
            readiness: context.readiness, logger: logger
        )
        let admin = HTTPServer(host: configuration.adminHost, port: configuration.adminPort, group: controlGroup,
                               logger: logger) { request in await AdminRoutes(agent: parts).handle(request) }
        let metrics = HTTPServer(host: configuration.metricsHost, port: configuration.metricsPort, group: controlGroup,
                                 logger: logger) { request in
            guard request.path == "/metrics" else { return .error(.notFound, "only /metrics here") }
            return .text(registry.emitToString(), contentType: "text/plain; version=0.0.4; charset=utf-8")
        }
        let readiness = HTTPServer(host: configuration.metricsHost, port: configuration.readinessPort,
                                   group: controlGroup, logger: logger) { [readiness = context.readiness] request in
            guard request.path == "/healthz/ready" else { return .error(.notFound, "only /healthz/ready here") }
            let waiting = readiness.waitingFor(meshStateGeneration: store.state.generation)
            let notices = readiness.notices.map { "notice: \($0)\n" }.joined()
            return waiting.isEmpty ? .text("ready\n" + notices)
                : .text("not ready: waiting for \(waiting.joined(separator: ", "))\n", status: .serviceUnavailable)
        }
        let outbound = OutboundListener(context: context, group: dataGroup, port: configuration.outboundPort)
        let inbound = InboundPlaintextListener(context: context, group: dataGroup, datapath: datapath)
        let enforcer = PolicyEnforcer(context: context)
        let podListeners = PodListeners(
            context: context, group: dataGroup, cgroupMount: configuration.cgroupMount, datapath: datapath, pairs: listenerPairs
        ) {
            let state = store.state
            if state.generation > 0 { reconciler.reconcile(state) }
        }
        let flusher = PeriodicTask(interval: configuration.metricsFlushInterval) { connections.reportBytes() }
        let sampler = KernelSampler(
            datapath: datapath, metrics: AgentMetrics(registry: registry, version: AgentParts.version),
            certificates: { identity?.statuses() ?? [] }, reloads: { watcher.reloadCounts }
        )
        let kernelEvents = KernelEventDrain(
            datapath: datapath, owners: connections.sockets, metrics: KernelSocketMetrics(registry: registry),
            sourceOfIndex: { index in enrollment.workload(index: index).map { WorkloadPair(source: $0) } }, logger: logger
        )

        let group = ServiceGroup(
            configuration: .init(
                services: [
                    .init(service: watcher), .init(service: reconciler), .init(service: outbound), .init(service: inbound),
                    .init(service: admin), .init(service: metrics), .init(service: readiness),
                    .init(service: flusher), .init(service: enforcer), .init(service: sampler), .init(service: kernelEvents),
                    .init(service: podListeners), .init(service: MeshConfigFollower(
                        store: store, initial: initialConfig, accessLog: accessLog, tracer: tracer, logger: logger
                    )),
                ] + meshServices.map { .init(service: $0) },
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        logger.info("ferryd up", metadata: ["ferry.node": "\(configuration.node)",
                                            "ferry.pins": "\(configuration.datapath.pinDirectory)"])
        try await group.run()
        store.finish()
        try? await dataGroup.shutdownGracefully()
        try? await controlGroup.shutdownGracefully()
        logger.info("ferryd stopped; BPF programs stay pinned")
    }
}

/// Runs a closure at a fixed interval until shutdown.
public struct PeriodicTask: Service {
    let interval: Duration
    let body: @Sendable () -> Void

    public init(interval: Duration, body: @escaping @Sendable () -> Void) {
        self.interval = interval
        self.body = body
    }

    public func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            try? await Task.sleep(for: interval)
            body()
        }
    }
}
