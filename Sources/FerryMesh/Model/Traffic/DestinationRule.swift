/// An Istio DestinationRule (`networking.istio.io/v1`, `v1beta1`, `v1alpha3`):
/// how requests to one Service are balanced, limited and watched for failing
/// endpoints, once routing has chosen that Service.
public struct DestinationRule: Hashable, Sendable {
    public var name: String
    public var namespace: String
    public var creationTimestamp: String?
    /// The Service `spec.host` names (short names resolve in the rule's namespace).
    public var host: ServiceName
    public var trafficPolicy: TrafficPolicy
    public var subsets: [Subset]

    public init(name: String, namespace: String, creationTimestamp: String? = nil, host: ServiceName,
                trafficPolicy: TrafficPolicy = TrafficPolicy(), subsets: [Subset] = []) {
        self.name = name
        self.namespace = namespace
        self.creationTimestamp = creationTimestamp
        self.host = host
        self.trafficPolicy = trafficPolicy
        self.subsets = subsets
    }

    public var key: String { "\(namespace)/\(name)" }

    /// A labelled slice of the Service's endpoints with its own policy.
    public struct Subset: Hashable, Sendable {
        public var name: String
        public var labels: [String: String]
        /// Overrides the rule's policy section by section.
        public var trafficPolicy: TrafficPolicy

        public init(name: String, labels: [String: String], trafficPolicy: TrafficPolicy = TrafficPolicy()) {
            self.name = name
            self.labels = labels
            self.trafficPolicy = trafficPolicy
        }
    }

    /// The policy for a subset on a Service port, as Istio merges them: the
    /// rule's policy for the port, then the subset's sections where written —
    /// all of them when the subset has settings for that port.
    public func trafficPolicy(forSubset name: String, port: Int) -> TrafficPolicy? {
        guard let subset = subsets.first(where: { $0.name == name }) else { return nil }
        let own = subset.trafficPolicy.portLevelSettings[port]
        return own ?? trafficPolicy.forPort(port).overridden(by: subset.trafficPolicy.forPort(port))
    }
}

/// The sections of a traffic policy; nil means not written (Istio's defaults apply).
public struct TrafficPolicy: Hashable, Sendable {
    public var loadBalancer: LoadBalancerSettings?
    public var connectionPool: ConnectionPoolSettings?
    /// nil: no outlier detection (Istio enables it only when written).
    public var outlierDetection: OutlierDetectionSettings?
    /// `portLevelSettings` by Service port number. Each replaces the whole
    /// policy for its port: what it leaves out takes Istio's default, not the
    /// rule's value (Istio's documented reading).
    public var portLevelSettings: [Int: TrafficPolicy]

    public init(loadBalancer: LoadBalancerSettings? = nil, connectionPool: ConnectionPoolSettings? = nil,
                outlierDetection: OutlierDetectionSettings? = nil, portLevelSettings: [Int: TrafficPolicy] = [:]) {
        self.loadBalancer = loadBalancer
        self.connectionPool = connectionPool
        self.outlierDetection = outlierDetection
        self.portLevelSettings = portLevelSettings
    }

    /// What applies to requests for one Service port.
    public func forPort(_ port: Int) -> TrafficPolicy {
        portLevelSettings[port] ?? TrafficPolicy(loadBalancer: loadBalancer, connectionPool: connectionPool,
                                                 outlierDetection: outlierDetection)
    }

    /// Istio merges subset policies over the rule's at the level of sections.
    public func overridden(by other: TrafficPolicy) -> TrafficPolicy {
        TrafficPolicy(loadBalancer: other.loadBalancer ?? loadBalancer,
                      connectionPool: other.connectionPool ?? connectionPool,
                      outlierDetection: other.outlierDetection ?? outlierDetection)
    }
}

public enum LoadBalancerSettings: Hashable, Sendable {
    case roundRobin
    /// Power of two choices on in-flight requests; Istio's default.
    case leastRequest
    case random
    case consistentHash(ConsistentHashSettings)

    /// What applies when a DestinationRule does not say.
    public static let istioDefault = LoadBalancerSettings.leastRequest
}

public struct ConsistentHashSettings: Hashable, Sendable {
    public enum Key: Hashable, Sendable {
        /// Lower-cased header name; a request without it gets a random endpoint.
        case header(String)
        case sourceIP
        /// A request without the parameter gets a random endpoint.
        case queryParameter(String)
    }

    public var key: Key
    /// The least number of points on the ring (Istio's default: 1024).
    public var minimumRingSize: Int

    public init(key: Key, minimumRingSize: Int = 1024) {
        self.key = key
        self.minimumRingSize = minimumRingSize
    }
}

/// Istio's connectionPool limits. Unset (or written 0) limits are Istio's
/// default of 2^32-1, i.e. no limit in practice.
public struct ConnectionPoolSettings: Hashable, Sendable {
    public static let unlimited = Int(UInt32.max)

    /// `tcp.maxConnections`: connections to the destination.
    public var maxConnections: Int
    /// `tcp.connectTimeout` (Istio's default: 10s).
    public var connectTimeout: Duration
    /// `http.http1MaxPendingRequests`: requests waiting for a connection.
    public var maxPendingRequests: Int
    /// `http.http2MaxRequests`: requests in flight to the destination.
    public var maxRequests: Int
    /// `http.maxRequestsPerConnection`; nil: unlimited (Istio's 0).
    public var maxRequestsPerConnection: Int?
    /// `http.maxRetries`: retries in flight to the destination.
    public var maxRetries: Int

    public init(maxConnections: Int = unlimited, connectTimeout: Duration = .seconds(10),
                maxPendingRequests: Int = unlimited, maxRequests: Int = unlimited,
                maxRequestsPerConnection: Int? = nil, maxRetries: Int = unlimited) {
        self.maxConnections = maxConnections
        self.connectTimeout = connectTimeout
        self.maxPendingRequests = maxPendingRequests
        self.maxRequests = maxRequests
        self.maxRequestsPerConnection = maxRequestsPerConnection
        self.maxRetries = maxRetries
    }
}

/// Istio's outlierDetection, with its defaults for fields not written.
public struct OutlierDetectionSettings: Hashable, Sendable {
    /// 5xx responses (and connect failures, resets, timeouts) in a row that
    /// eject an endpoint; 0 turns this check off. Default 5.
    public var consecutive5xxErrors: Int
    /// 502, 503, 504 (and connect failures, resets, timeouts) in a row; 0 (the
    /// default) turns this check off.
    public var consecutiveGatewayErrors: Int
    /// How often ejection multipliers are aged. Default 10s.
    public var interval: Duration
    /// An ejection lasts this × the endpoint's ejection count. Default 30s.
    public var baseEjectionTime: Duration
    /// At most this share of the endpoints is ejected at once. Default 10.
    public var maxEjectionPercent: Int
    /// Below this share of healthy endpoints, ejections are ignored. Default 0.
    public var minHealthPercent: Int

    public init(consecutive5xxErrors: Int = 5, consecutiveGatewayErrors: Int = 0, interval: Duration = .seconds(10),
                baseEjectionTime: Duration = .seconds(30), maxEjectionPercent: Int = 10, minHealthPercent: Int = 0) {
        self.consecutive5xxErrors = consecutive5xxErrors
        self.consecutiveGatewayErrors = consecutiveGatewayErrors
        self.interval = interval
        self.baseEjectionTime = baseEjectionTime
        self.maxEjectionPercent = maxEjectionPercent
        self.minHealthPercent = minHealthPercent
    }
}
