import Prometheus
import Synchronization

/// Istio's standard request metrics: `istio_requests_total`,
/// `istio_request_duration_milliseconds`, `istio_request_bytes` and
/// `istio_response_bytes`, and for gRPC calls `istio_request_messages_total`
/// and `istio_response_messages_total`, with the TCP label set plus
/// `response_code` and `grpc_response_status` (empty when the request is not
/// a gRPC call).
public final class HTTPMetrics: Sendable {
    struct Series: Sendable {
        let requests: Counter
        let duration: ValueHistogram
        let requestBytes: ValueHistogram
        let responseBytes: ValueHistogram
        /// gRPC calls only (request_protocol "grpc"), as Istio reports them.
        let messages: (request: Counter, response: Counter)?
    }

    /// Istio's default buckets.
    static let durationBuckets: [Double] = [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000]
    static let sizeBuckets: [Double] = [1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000]

    private let registry: PrometheusCollectorRegistry
    private let series = Mutex<[RequestLabels: Series]>([:])

    public init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
    }

    public struct RequestLabels: Hashable, Sendable {
        public var traffic: TrafficLabels
        public var responseCode: Int
        public var grpcStatus: String

        public init(traffic: TrafficLabels, responseCode: Int, grpcStatus: String = "") {
            self.traffic = traffic
            self.responseCode = responseCode
            self.grpcStatus = grpcStatus
        }
    }

    /// `grpcMessages`: the messages each way, for a gRPC call.
    public func record(_ labels: RequestLabels, durationMilliseconds: Double, requestBytes: Int, responseBytes: Int,
                       grpcMessages: (request: Int, response: Int)? = nil) {
        let series = self.series.withLock { cache in
            if let existing = cache[labels] { return existing }
            let pairs = labels.traffic.pairs + [("response_code", "\(labels.responseCode)"), ("grpc_response_status", labels.grpcStatus)]
            let made = Series(
                requests: registry.counter("istio_requests_total", help: "Requests", labels: pairs),
                duration: registry.makeValueHistogram(
                    descriptor: MetricNameDescriptor(metricName: "istio_request_duration", unitName: "milliseconds",
                                                     helpText: "Request duration"),
                    labels: pairs, buckets: Self.durationBuckets),
                requestBytes: registry.makeValueHistogram(
                    descriptor: MetricNameDescriptor(metricName: "istio_request", unitName: "bytes", helpText: "Request sizes"),
                    labels: pairs, buckets: Self.sizeBuckets),
                responseBytes: registry.makeValueHistogram(
                    descriptor: MetricNameDescriptor(metricName: "istio_response", unitName: "bytes", helpText: "Response sizes"),
                    labels: pairs, buckets: Self.sizeBuckets),
                messages: labels.traffic.requestProtocol != "grpc" ? nil : (
                    request: registry.counter("istio_request_messages_total", help: "gRPC messages sent by clients", labels: pairs),
                    response: registry.counter("istio_response_messages_total", help: "gRPC messages sent by servers", labels: pairs)
                )
            )
            cache[labels] = made
            return made
        }
        series.requests.increment()
        series.duration.record(durationMilliseconds)
        series.requestBytes.record(Double(requestBytes))
        series.responseBytes.record(Double(responseBytes))
        if let counters = series.messages, let grpcMessages {
            counters.request.increment(by: Int64(grpcMessages.request))
            counters.response.increment(by: Int64(grpcMessages.response))
        }
    }
}
