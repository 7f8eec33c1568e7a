/// A Gateway API HTTPRoute (`gateway.networking.k8s.io/v1` or `v1beta1`) bound
/// to Services, as the GAMMA mesh profile uses it: requests a client sends to
/// a parent Service are matched against the rules and sent to the rule's
/// backends. Values are parsed and regexes compiled when the route is read;
/// FerryPolicy (`HTTPRouteTable`) decides.
public struct HTTPRoute: Hashable, Sendable {
    public var name: String
    public var namespace: String
    /// Gateway API breaks precedence ties across routes by age, then by key.
    public var creationTimestamp: String?
    public var parentRefs: [ParentRef]
    /// Lower-cased; "*.example.com" matches any name under example.com. Empty
    /// matches any Host.
    public var hostnames: [String]
    /// In the order written; the first of equal precedence wins.
    public var rules: [Rule]

    public init(name: String, namespace: String, creationTimestamp: String? = nil, parentRefs: [ParentRef],
                hostnames: [String] = [], rules: [Rule]) {
        self.name = name
        self.namespace = namespace
        self.creationTimestamp = creationTimestamp
        self.parentRefs = parentRefs
        self.hostnames = hostnames
        self.rules = rules
    }

    public var key: String { "\(namespace)/\(name)" }

    /// The Service whose traffic the route manages (shared with GRPCRoute).
    public typealias ParentRef = RouteParentRef
    /// A Service port to send to (shared with GRPCRoute).
    public typealias BackendRef = RouteBackendRef

    public struct Rule: Hashable, Sendable {
        public var name: String?
        /// ORed; never empty (no matches means one match of every path).
        public var matches: [HTTPRouteMatch]
        public var filters: [HTTPRouteFilter]
        /// Empty means the parent Service itself (GAMMA: a rule without backends
        /// sends traffic on to the Service the client asked for).
        public var backendRefs: [BackendRef]
        public var timeouts: Timeouts
        public var retry: Retry?
        /// What Ferry cannot carry out as written: a filter it does not
        /// implement (on the rule or on one of its backendRefs), or
        /// `sessionPersistence`. Such a rule keeps its matches and answers
        /// them with an error: a filter must never be skipped silently.
        public var problems: [ResourceError]

        public init(name: String? = nil, matches: [HTTPRouteMatch] = [HTTPRouteMatch()], filters: [HTTPRouteFilter] = [],
                    backendRefs: [BackendRef] = [], timeouts: Timeouts = Timeouts(), retry: Retry? = nil,
                    problems: [ResourceError] = []) {
            self.name = name
            self.matches = matches.isEmpty ? [HTTPRouteMatch()] : matches
            self.filters = filters
            self.backendRefs = backendRefs
            self.timeouts = timeouts
            self.retry = retry
            self.problems = problems
        }
    }

    /// nil: no timeout (a written "0s" also disables one).
    public struct Timeouts: Hashable, Sendable {
        /// The whole exchange with the client, retries included.
        public var request: Duration?
        /// One attempt to a backend.
        public var backendRequest: Duration?

        public init(request: Duration? = nil, backendRequest: Duration? = nil) {
            self.request = request
            self.backendRequest = backendRequest
        }
    }

    /// Gateway API v1.2 HTTPRouteRetry, as written; FerryPolicy's `RetryPolicy`
    /// gives it meaning (defaults, which failures are retried, backoff).
    public struct Retry: Hashable, Sendable {
        /// Response statuses (400-599) to retry.
        public var codes: [Int]
        /// Retries after the first attempt; nil when not written.
        public var attempts: Int?
        /// The least wait before a retry; nil when not written.
        public var backoff: Duration?

        public init(codes: [Int] = [], attempts: Int? = nil, backoff: Duration? = nil) {
            self.codes = codes
            self.attempts = attempts
            self.backoff = backoff
        }
    }
}

/// One `matches` entry: every given condition must hold.
public struct HTTPRouteMatch: Hashable, Sendable {
    public enum PathMatch: Hashable, Sendable {
        case exact(String)
        /// By whole path segments: "/foo" matches "/foo" and "/foo/bar", not "/foobar".
        /// Held without a trailing slash ("/" is held as "").
        case prefix(String)
        case regularExpression(CompiledRegex)
    }

    /// Matched against the path without its query string.
    public var path: PathMatch
    /// Names lower-cased; at most one entry per name.
    public var headers: [NamedValueMatch]
    public var queryParams: [NamedValueMatch]
    /// Upper-case method name, or nil for any.
    public var method: String?

    public init(path: PathMatch = .prefix(""), headers: [NamedValueMatch] = [], queryParams: [NamedValueMatch] = [],
                method: String? = nil) {
        self.path = path
        self.headers = headers
        self.queryParams = queryParams
        self.method = method
    }
}
