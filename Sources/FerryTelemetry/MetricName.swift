import Prometheus

extension PrometheusCollectorRegistry {
    /// Metrics named in full, as Istio and Ferry write them ("istio_requests_total").
    /// swift-prometheus joins the non-empty name parts, so an empty unit leaves
    /// the name as written.
    func counter(_ name: String, help: String, labels: [(String, String)]) -> Counter {
        makeCounter(descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help), labels: labels)
    }

    func gauge(_ name: String, help: String, labels: [(String, String)]) -> Gauge {
        makeGauge(descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help), labels: labels)
    }
}
