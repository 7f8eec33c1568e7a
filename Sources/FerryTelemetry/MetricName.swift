import Prometheus

extension MetricNameDescriptor {
    /// A metric named as Istio and Ferry write it ("istio_requests_total"),
    /// split where swift-prometheus wants it: the last "_" part is the unit.
    /// The exposed name is `fullName` unchanged.
    init(fullName: String, help: String) {
        let cut = fullName.lastIndex(of: "_")
        precondition(cut != nil, "metric name '\(fullName)' has no unit part")
        self.init(metricName: String(fullName[..<cut!]), unitName: String(fullName[fullName.index(after: cut!)...]), helpText: help)
    }
}

extension PrometheusCollectorRegistry {
    func counter(_ name: String, help: String, labels: [(String, String)]) -> Counter {
        makeCounter(descriptor: MetricNameDescriptor(fullName: name, help: help), labels: labels)
    }

    func gauge(_ name: String, help: String, labels: [(String, String)]) -> Gauge {
        makeGauge(descriptor: MetricNameDescriptor(fullName: name, help: help), labels: labels)
    }
}
