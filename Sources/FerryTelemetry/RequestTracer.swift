import FerryMesh
import Logging
import OTel
import ServiceLifecycle
import Synchronization
import Tracing

/// One span per sampled HTTP request, exported over OTLP/HTTP by swift-otel
/// when MeshConfig `spec.tracing` names a collector. The exporter is rebuilt
/// when the settings change (the old one flushes what it holds and stops);
/// without settings `start` only carries the trace on with `TraceContext`.
/// Batching and export run off the data path, in swift-otel's processor.
public final class RequestTracer: Sendable {
    private let node: String
    private let logger: Logger
    private let current = Mutex<Exporter?>(nil)

    public init(node: String, logger: Logger) {
        self.node = node
        self.logger = logger
    }

    /// Whether spans are exported (settings applied).
    public var isEnabled: Bool { current.withLock { $0 != nil } }

    /// Follows `settings`: nil stops export. Bad settings leave the current
    /// exporter in place and are reported.
    public func apply(_ settings: TracingSettings?) {
        if current.withLock({ $0?.settings }) == settings { return }
        let next: Exporter?
        do {
            next = try settings.map { try Exporter(settings: $0, node: node, logger: logger) }
        } catch {
            logger.error("tracing settings not applied; keeping the previous ones", metadata: ["ferry.error": "\(error)"])
            return
        }
        let previous = current.withLock { current in
            defer { current = next }
            return current
        }
        Task { await previous?.stop() }
        if let settings {
            logger.info("exporting request spans", metadata: ["ferry.otlp": "\(settings.otlpEndpoint)",
                                                              "ferry.sampling": "\(settings.samplingPercent)%"])
        }
    }

    /// Flushes and stops the exporter (agent shutdown).
    public func stop() async {
        let exporter = current.withLock { current in
            defer { current = nil }
            return current
        }
        await exporter?.stop()
    }

    /// This hop's trace context for a request that arrived with `parent`
    /// (nil: none, or malformed), and its span when the trace is sampled and
    /// spans are exported. Sampling is decided here, so an unsampled request
    /// never reaches swift-otel: a parent's flag is followed, a new trace is
    /// sampled at `samplingPercent`. `name` is only built for a span.
    public func start(_ name: @autoclosure () -> String, parent: TraceContext?) -> (span: RequestSpan?, context: TraceContext) {
        guard let exporter = current.withLock({ $0 }) else { return (nil, parent?.child() ?? .fresh()) }
        if let parent, !parent.sampled { return (nil, parent.child()) }
        if parent == nil {
            var random = SplitMix64()
            let sampled = Double(random.next() >> 11) / Double(1 << 53) * 100 < exporter.settings.samplingPercent
            if !sampled { return (nil, .fresh(sampled: false)) }
        }
        let span = exporter.start(name(), traceparent: parent?.traceparent)
        return (span, TraceContext(traceparent: span.traceparent) ?? parent?.child() ?? .fresh())
    }
}

/// A request's span: the `traceparent` to send upstream, then `end`.
public struct RequestSpan: Sendable {
    let span: any Span
    /// This hop's context, for the upstream request.
    public let traceparent: String

    /// Records the outcome (OpenTelemetry's HTTP attribute names where there
    /// is one) and hands the span to the exporter.
    public func end(status: Int, attributes: [(String, String)]) {
        span.attributes["http.response.status_code"] = status
        for (key, value) in attributes { span.attributes[key] = value }
        if status >= 500 { span.setStatus(SpanStatus(code: .error, message: "HTTP \(status)")) }
        span.end()
    }
}

/// One swift-otel tracing backend and the task that runs its services.
private final class Exporter: Sendable {
    let settings: TracingSettings
    private let start: @Sendable (String, String?) -> RequestSpan
    private let group: ServiceGroup
    private let task: Task<Void, Never>

    init(settings: TracingSettings, node: String, logger: Logger) throws {
        var configuration = OTel.Configuration.default
        configuration.serviceName = "ferryd"
        configuration.resourceAttributes = ["k8s.node.name": node, "service.instance.id": node]
        configuration.diagnosticLogger = .custom(logger)
        configuration.logs.enabled = false
        configuration.metrics.enabled = false
        configuration.traces.exporter = .otlp
        configuration.traces.otlpExporter.endpoint = settings.otlpEndpoint
        configuration.traces.otlpExporter.protocol = settings.encoding == .json ? .httpJSON : .httpProtobuf
        // Only sampled requests reach the tracer (RequestTracer.start decides).
        configuration.traces.sampler = .alwaysOn
        let backend = try OTel.makeTracingBackend(configuration: configuration)
        let tracer = backend.factory
        self.settings = settings
        start = { name, traceparent in
            var parent = ServiceContext.topLevel
            if let traceparent { tracer.extract(["traceparent": traceparent], into: &parent, using: HeaderMap()) }
            let span = tracer.startSpan(name, context: parent, ofKind: .client)
            var outgoing: [String: String] = [:]
            tracer.inject(span.context, into: &outgoing, using: HeaderMap())
            return RequestSpan(span: span, traceparent: outgoing["traceparent"] ?? traceparent ?? "")
        }
        group = ServiceGroup(configuration: .init(services: [.init(service: backend.service)], logger: logger))
        task = Task { [group] in
            do { try await group.run() } catch { logger.warning("span exporter stopped", metadata: ["ferry.error": "\(error)"]) }
        }
    }

    func start(_ name: String, traceparent: String?) -> RequestSpan { start(name, traceparent) }

    /// Exports what is queued, then ends; gives up after `limit`, so a
    /// collector that does not answer cannot hold up the agent's shutdown
    /// for swift-otel's 10 s export timeout.
    func stop(within limit: Duration = .seconds(2)) async {
        await group.triggerGracefulShutdown()
        let task = self.task
        let deadline = Task {
            try await Task.sleep(for: limit)
            task.cancel()
        }
        await task.value
        deadline.cancel()
    }
}

/// Headers as a plain dictionary, for W3C trace-context propagation.
private struct HeaderMap: Extractor, Injector {
    func extract(key: String, from carrier: [String: String]) -> String? { carrier[key] }
    func inject(_ value: String, forKey key: String, into carrier: inout [String: String]) { carrier[key] = value }
}

