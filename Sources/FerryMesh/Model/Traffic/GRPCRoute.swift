/// A Gateway API GRPCRoute (`gateway.networking.k8s.io/v1`) bound to
/// Services (GAMMA): gRPC calls a client sends to a parent Service are
/// matched by service, method and headers and sent to the rule's backends.
/// It shares parentRefs, backendRefs and filters with HTTPRoute; where both
/// kinds attach to one Service port, GRPCRoute wins there (GEP-1294).
/// FerryPolicy (`HTTPRouteTable`) decides.
public struct GRPCRoute: Hashable, Sendable {
    public var name: String
    public var namespace: String
    public var creationTimestamp: String?
    public var parentRefs: [RouteParentRef]
    /// Lower-cased, as HTTPRoute's.
    public var hostnames: [String]
    public var rules: [Rule]

    public init(name: String, namespace: String, creationTimestamp: String? = nil, parentRefs: [RouteParentRef],
                hostnames: [String] = [], rules: [Rule]) {
        self.name = name
        self.namespace = namespace
        self.creationTimestamp = creationTimestamp
        self.parentRefs = parentRefs
        self.hostnames = hostnames
        self.rules = rules
    }

    public var key: String { "\(namespace)/\(name)" }

    public struct Rule: Hashable, Sendable {
        public var name: String?
        /// ORed; never empty (no matches means one match of every call).
        public var matches: [GRPCRouteMatch]
        /// RequestHeaderModifier, ResponseHeaderModifier and RequestMirror.
        public var filters: [HTTPRouteFilter]
        /// Empty means the parent Service itself.
        public var backendRefs: [RouteBackendRef]
        /// As HTTPRoute.Rule's: the rule answers its calls with an error.
        public var problems: [ResourceError]

        public init(name: String? = nil, matches: [GRPCRouteMatch] = [GRPCRouteMatch()], filters: [HTTPRouteFilter] = [],
                    backendRefs: [RouteBackendRef] = [], problems: [ResourceError] = []) {
            self.name = name
            self.matches = matches.isEmpty ? [GRPCRouteMatch()] : matches
            self.filters = filters
            self.backendRefs = backendRefs
            self.problems = problems
        }
    }
}

/// One GRPCRoute `matches` entry: every given condition must hold.
public struct GRPCRouteMatch: Hashable, Sendable {
    /// nil matches every service and method.
    public var method: GRPCMethodMatch?
    /// Names lower-cased; the first entry of a name counts (Gateway API).
    public var headers: [NamedValueMatch]

    public init(method: GRPCMethodMatch? = nil, headers: [NamedValueMatch] = []) {
        self.method = method
        self.headers = headers
    }
}

/// The gRPC service ("package.Service") and/or method ("Method") of a call,
/// compared case-sensitively, exactly or by a regex over the whole name. At
/// least one of the two is set.
public struct GRPCMethodMatch: Hashable, Sendable {
    public var service: ValueMatch?
    public var method: ValueMatch?

    public init(service: ValueMatch? = nil, method: ValueMatch? = nil) {
        self.service = service
        self.method = method
    }
}
