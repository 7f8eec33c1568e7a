import FerryMesh

/// What to do with one request, as the route table decided it. Everything is
/// resolved: the backend Service and port, its DestinationRule policy, the
/// upstream path and authority after URLRewrite (or the redirect instead), the
/// mirrors already sampled.
public struct RouteDecision: Sendable, Equatable {
    public enum Action: Sendable, Equatable {
        /// Send to this backend (pick an endpoint with its policy's load balancer).
        case forward(RouteBackend)
        /// Answer without forwarding: the rule's backends are all weight 0,
        /// or the one drawn cannot be used (a Service or port that does not
        /// exist, another kind, a filter Ferry does not implement), or the
        /// rule itself cannot be carried out. 500 for an HTTPRoute; 503,
        /// which a gRPC client reads as UNAVAILABLE, for a GRPCRoute (Gateway API).
        case respond(status: Int, reason: String)
        /// Answer with a redirect (RequestRedirect): a 3xx status and its `Location`.
        case redirect(status: Int, location: String)
    }

    public var action: Action
    /// "namespace/name" of the HTTPRoute or GRPCRoute; nil for the default
    /// route (none applies, so the request goes to the Service it was sent to).
    public var route: String?
    public var ruleIndex: Int?
    /// Apply to the request before forwarding, in order: the rule's, then
    /// the chosen backendRef's.
    public var requestHeaders: [HeaderModifier]
    /// Apply to the response before returning it, in the same order.
    public var responseHeaders: [HeaderModifier]
    /// The `:path` to send upstream (query kept).
    public var path: String
    /// The `:authority` / Host to send upstream.
    public var authority: String
    /// Send a copy of the request to each; their answers are discarded.
    public var mirrors: [RouteBackend]
    public var timeouts: HTTPRoute.Timeouts
    /// nil: no retries (Gateway API: retrying is opt-in per rule).
    public var retry: RetryPolicy?

    public init(action: Action, route: String? = nil, ruleIndex: Int? = nil, requestHeaders: [HeaderModifier] = [],
                responseHeaders: [HeaderModifier] = [], path: String, authority: String, mirrors: [RouteBackend] = [],
                timeouts: HTTPRoute.Timeouts = HTTPRoute.Timeouts(), retry: RetryPolicy? = nil) {
        self.action = action
        self.route = route
        self.ruleIndex = ruleIndex
        self.requestHeaders = requestHeaders
        self.responseHeaders = responseHeaders
        self.path = path
        self.authority = authority
        self.mirrors = mirrors
        self.timeouts = timeouts
        self.retry = retry
    }

    /// The backend to forward to, if the action is to forward.
    public var backend: RouteBackend? {
        if case .forward(let backend) = action { return backend }
        return nil
    }
}

/// A Service port requests go to, with the policy its DestinationRule sets.
public struct RouteBackend: Sendable, Equatable {
    public var service: MeshService
    public var port: ServicePort
    /// The DestinationRule's policy (Istio's defaults where it is silent or absent).
    public var policy: ResolvedTrafficPolicy

    public init(service: MeshService, port: ServicePort, policy: ResolvedTrafficPolicy = ResolvedTrafficPolicy()) {
        self.service = service
        self.port = port
        self.policy = policy
    }

    /// Keys per-destination state: circuit breaker, outlier detector, retry
    /// budget, load balancer cursor ("namespace/name:port").
    public var destinationKey: String { "\(service.key):\(port.port)" }
}

/// A traffic policy with every default applied: what the proxy acts on.
public struct ResolvedTrafficPolicy: Sendable, Equatable {
    public var loadBalancer: LoadBalancerSettings
    public var connectionPool: ConnectionPoolSettings
    /// nil: outlier detection is off (Istio turns it on only when written).
    public var outlierDetection: OutlierDetectionSettings?
    /// "namespace/name" of the DestinationRule, nil when none applies.
    public var destinationRule: String?

    public init(_ policy: TrafficPolicy = TrafficPolicy(), destinationRule: String? = nil) {
        loadBalancer = policy.loadBalancer ?? .istioDefault
        connectionPool = policy.connectionPool ?? ConnectionPoolSettings()
        outlierDetection = policy.outlierDetection
        self.destinationRule = destinationRule
    }
}
