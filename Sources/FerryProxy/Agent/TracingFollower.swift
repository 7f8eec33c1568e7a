import FerryTelemetry
import ServiceLifecycle

/// Keeps the span exporter in step with MeshConfig `spec.tracing`, and
/// flushes it when the agent stops.
struct TracingFollower: Service {
    let store: StateStore
    let tracer: RequestTracer

    func run() async throws {
        for await state in store.updates().cancelOnGracefulShutdown() {
            tracer.apply(state.config.tracing)
        }
        await tracer.stop()
    }
}
