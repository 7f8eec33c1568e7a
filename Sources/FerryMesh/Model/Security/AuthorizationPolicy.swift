/// An Istio AuthorizationPolicy (`security.istio.io/v1` or `v1beta1`), with every
/// value already parsed: patterns, CIDRs and ports are typed, so a decision does
/// no string parsing. The meaning of the fields is Istio's; FerryPolicy decides.
public struct AuthorizationPolicy: Hashable, Sendable, Codable {
    public enum Action: String, Hashable, Sendable, Codable {
        case allow = "ALLOW"
        case deny = "DENY"
        /// Marks matching requests for auditing; never changes the decision.
        case audit = "AUDIT"
    }

    public var name: String
    public var namespace: String
    /// `selector.matchLabels`; empty selects every workload in scope (the policy's
    /// namespace, or the whole mesh from the root namespace).
    public var selector: [String: String]
    public var action: Action
    /// No rules: matches nothing (an ALLOW policy without rules denies everything).
    public var rules: [Rule]

    public init(name: String, namespace: String, selector: [String: String] = [:], action: Action = .allow,
                rules: [Rule] = []) {
        self.name = name
        self.namespace = namespace
        self.selector = selector
        self.action = action
        self.rules = rules
    }

    public var key: String { "\(namespace)/\(name)" }

    /// Matches when one source, one operation and every condition match; an empty
    /// list matches anything, so an empty rule matches every request.
    public struct Rule: Hashable, Sendable, Codable {
        public var from: [Source]
        public var to: [Operation]
        public var when: [Condition]

        public init(from: [Source] = [], to: [Operation] = [], when: [Condition] = []) {
            self.from = from
            self.to = to
            self.when = when
        }
    }

    /// Who sends. Fields are ANDed.
    public struct Source: Hashable, Sendable, Codable {
        /// Peer identities in the "<trust domain>/ns/<ns>/sa/<sa>" form (mTLS only).
        public var principals: AttributeMatch<StringMatch>
        /// The peer identity's namespace (mTLS only).
        public var namespaces: AttributeMatch<StringMatch>
        /// The packet's source address.
        public var ipBlocks: AttributeMatch<CIDR>
        /// The original client (X-Forwarded-For or PROXY protocol; else the source).
        public var remoteIPBlocks: AttributeMatch<CIDR>

        public init(principals: AttributeMatch<StringMatch> = .init(), namespaces: AttributeMatch<StringMatch> = .init(),
                    ipBlocks: AttributeMatch<CIDR> = .init(), remoteIPBlocks: AttributeMatch<CIDR> = .init()) {
            self.principals = principals
            self.namespaces = namespaces
            self.ipBlocks = ipBlocks
            self.remoteIPBlocks = remoteIPBlocks
        }
    }

    /// What is asked. Fields are ANDed; all but `ports` exist only in HTTP.
    public struct Operation: Hashable, Sendable, Codable {
        /// Matched without regard to ASCII case (Istio: "The match is case-insensitive").
        public var hosts: AttributeMatch<StringMatch>
        public var ports: AttributeMatch<Int>
        public var methods: AttributeMatch<StringMatch>
        /// Matched against the path without its query string.
        public var paths: AttributeMatch<StringMatch>

        public init(hosts: AttributeMatch<StringMatch> = .init(), ports: AttributeMatch<Int> = .init(),
                    methods: AttributeMatch<StringMatch> = .init(), paths: AttributeMatch<StringMatch> = .init()) {
            self.hosts = hosts
            self.ports = ports
            self.methods = methods
            self.paths = paths
        }

        /// Whether any field needs an HTTP request to be decided.
        public var usesHTTP: Bool { !hosts.isEmpty || !methods.isEmpty || !paths.isEmpty }
    }

    /// One `when` entry: a key of Istio's condition table with its values parsed
    /// for that key (CIDRs for addresses, numbers for ports, patterns otherwise).
    public enum Condition: Hashable, Sendable, Codable {
        case sourceIP(AttributeMatch<CIDR>)
        case remoteIP(AttributeMatch<CIDR>)
        case destinationIP(AttributeMatch<CIDR>)
        case destinationPort(AttributeMatch<Int>)
        case sourceNamespace(AttributeMatch<StringMatch>)
        case sourcePrincipal(AttributeMatch<StringMatch>)
        /// `request.headers[Name]`; the name is held lower-cased.
        case requestHeader(name: String, AttributeMatch<StringMatch>)

        /// Whether the key exists only in HTTP.
        public var usesHTTP: Bool {
            if case .requestHeader = self { return true }
            return false
        }
    }
}
