import FerryMesh
import FerryTelemetry
import Logging
import ServiceLifecycle

/// Applies the MeshConfig settings that take effect without a restart: the
/// log level, the access log and span export. Each is applied when its own
/// value in the MeshConfig changes, so a level set with `ferryctl logging`
/// holds until the MeshConfig's level is edited. Flushes the span exporter
/// when the agent stops.
struct MeshConfigFollower: Service {
    let store: StateStore
    /// What the agent applied at start.
    let initial: MeshConfig
    let accessLog: AccessLog
    let tracer: RequestTracer
    let logger: Logger

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
