import FerryMesh
import FerryTelemetry
import Logging
import ServiceLifecycle

/// Applies the MeshConfig settings that take effect without a restart: the
/// log level, the access log and span export. Each is applied when its own
/// value in the MeshConfig changes, so a level given with `--log-level` or
/// `ferryctl logging` holds until the MeshConfig's level is edited. Flushes the span exporter
/// when the agent stops.
final class MeshConfigFollower: Service, Sendable {
    private let store: StateStore
    /// What the agent applied at start.
    private let initial: MeshConfig
    private let accessLog: AccessLog
    private let tracer: RequestTracer
    private let logger: Logger

    init(store: StateStore, initial: MeshConfig, accessLog: AccessLog, tracer: RequestTracer, logger: Logger) {
        self.store = store
        self.initial = initial
        self.accessLog = accessLog
        self.tracer = tracer
        self.logger = logger
    }

    func run() async throws {
        var applied = initial
        for await state in store.updates().cancelOnGracefulShutdown() {
            let config = state.config
            if config.logLevel != applied.logLevel, let level = Logger.Level(rawValue: config.logLevel) {
                FerryLogging.setLevel(level)
                logger.notice("log level from MeshConfig", metadata: ["ferry.level": "\(level)"])
            }
            if config.accessLog != applied.accessLog { accessLog.setEnabled(config.accessLog) }
            tracer.apply(config.tracing)
            applied = config
        }
        await tracer.stop()
    }
}
