import FerryMesh

/// The source workload as the destination side learns it: from the HBONE
/// CONNECT's `baggage` (ztunnel's keys), or on the same-node path from the
/// enrollment. It fills the destination reporter's source labels, so both
/// reporters name a pair the same way.
public struct PeerWorkload: Sendable, Equatable {
    /// The workload's own name and namespace (its key in the mesh state).
    public var name: String
    public var namespace: String
    /// `source_workload` as the source reporter writes it (`canonicalName`).
    public var metricName: String
    public var canonicalService: String
    public var canonicalRevision: String
    public var cluster: String

    public var key: String { "\(namespace)/\(name)" }

    public init(_ workload: Workload, cluster: String) {
        name = workload.name
        namespace = workload.namespace
        metricName = workload.canonicalName
        canonicalService = workload.canonicalService
        canonicalRevision = workload.canonicalRevision
        self.cluster = cluster
    }

    /// From a peer's baggage; nil without a name and namespace.
    public init?(baggage: [String: String]) {
        guard let namespace = baggage["k8s.namespace.name"],
              let name = baggage["k8s.workload.name"] ?? baggage["k8s.deployment.name"] ?? baggage["service.name"] else { return nil }
        self.name = name
        self.namespace = namespace
        metricName = baggage["k8s.deployment.name"] ?? name
        canonicalService = baggage["service.name"] ?? metricName
        canonicalRevision = baggage["service.version"] ?? "latest"
        cluster = baggage["k8s.cluster.name"] ?? "unknown"
    }

    /// What the source agent sends (W3C baggage members, ztunnel's keys plus
    /// `k8s.workload.name` for the exact workload).
    public var baggage: [String: String] {
        [
            "k8s.cluster.name": cluster,
            "k8s.namespace.name": namespace,
            "k8s.workload.name": name,
            "k8s.deployment.name": metricName,
            "service.name": canonicalService,
            "service.version": canonicalRevision,
        ]
    }
}
