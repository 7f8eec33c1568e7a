/// Istio's `reporter` label: which end of the connection speaks.
public enum Reporter: String, Sendable, Hashable {
    case source
    case destination
}

/// Istio's `response_flags`, as Envoy and ztunnel write them; "-" is none.
public enum ResponseFlags: String, Sendable, Hashable, Codable {
    case none = "-"
    case deny = "DENY"
    case upstreamConnectionFailure = "UF"
    case upstreamOverflow = "UO"
    case noRoute = "NR"
    case noHealthyUpstream = "UH"
    case upstreamRequestTimeout = "UT"
    case rateLimited = "RL"
    case faultInjected = "FI"
    case delayInjected = "DI"
    case downstreamConnectionTermination = "DC"
    case upstreamConnectionTermination = "UC"
    case upstreamReset = "UR"
}

/// Istio's `connection_security_policy`.
public enum SecurityPolicy: String, Sendable, Hashable, Codable {
    case mutualTLS = "mutual_tls"
    case none = "none"
    case unknown = "unknown"
}

/// The label set of Istio's TCP and request metrics, with the canonical
/// service, revision, version and cluster labels Kiali's graph groups by.
/// Every value comes from the mesh state (workload and service names, labels)
/// or a fixed enum, so the number of series stays bounded by the number of
/// workload pairs.
public struct TrafficLabels: Hashable, Sendable {
    public var reporter: Reporter
    public var sourceWorkload: String = "unknown"
    public var sourceNamespace: String = "unknown"
    public var sourcePrincipal: String = "unknown"
    public var sourceApp: String = "unknown"
    public var sourceCanonicalService: String = "unknown"
    public var sourceCanonicalRevision: String = "latest"
    public var sourceVersion: String = "unknown"
    public var sourceCluster: String = "unknown"
    public var destinationWorkload: String = "unknown"
    public var destinationNamespace: String = "unknown"
    public var destinationPrincipal: String = "unknown"
    public var destinationApp: String = "unknown"
    public var destinationCanonicalService: String = "unknown"
    public var destinationCanonicalRevision: String = "latest"
    public var destinationVersion: String = "unknown"
    public var destinationCluster: String = "unknown"
    public var destinationService: String = "unknown"
    public var destinationServiceName: String = "unknown"
    public var destinationServiceNamespace: String = "unknown"
    public var requestProtocol: String = "tcp"
    public var responseFlags: ResponseFlags = .none
    public var securityPolicy: SecurityPolicy = .unknown

    public init(reporter: Reporter) { self.reporter = reporter }

    public var pairs: [(String, String)] {
        [
            ("reporter", reporter.rawValue),
            ("source_workload", sourceWorkload),
            ("source_workload_namespace", sourceNamespace),
            ("source_principal", sourcePrincipal),
            ("source_app", sourceApp),
            ("source_canonical_service", sourceCanonicalService),
            ("source_canonical_revision", sourceCanonicalRevision),
            ("source_version", sourceVersion),
            ("source_cluster", sourceCluster),
            ("destination_workload", destinationWorkload),
            ("destination_workload_namespace", destinationNamespace),
            ("destination_principal", destinationPrincipal),
            ("destination_app", destinationApp),
            ("destination_canonical_service", destinationCanonicalService),
            ("destination_canonical_revision", destinationCanonicalRevision),
            ("destination_version", destinationVersion),
            ("destination_cluster", destinationCluster),
            ("destination_service", destinationService),
            ("destination_service_name", destinationServiceName),
            ("destination_service_namespace", destinationServiceNamespace),
            ("request_protocol", requestProtocol),
            ("response_flags", responseFlags.rawValue),
            ("connection_security_policy", securityPolicy.rawValue),
        ]
    }
}
