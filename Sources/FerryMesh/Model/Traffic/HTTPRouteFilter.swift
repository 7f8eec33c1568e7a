/// The HTTPRoute and GRPCRoute filters Ferry applies, on a rule or on one
/// backendRef. ExtensionRef, CORS and ExternalAuth are not implemented: the
/// decoder records them as problems of the rule or backend that holds them.
public enum HTTPRouteFilter: Hashable, Sendable {
    case requestHeaderModifier(HeaderModifier)
    case responseHeaderModifier(HeaderModifier)
    case urlRewrite(URLRewrite)
    case requestRedirect(RequestRedirect)
    case requestMirror(RequestMirror)
}

/// One header line: a name (compared without regard to case) and a value.
public struct HTTPHeaderField: Hashable, Sendable {
    public var name: String
    public var value: String

    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}

/// Header edits. Applied as Envoy applies them: removals, then `set`
/// (replacing every value of the name), then `add` (one more line).
public struct HeaderModifier: Hashable, Sendable {
    public var set: [HTTPHeaderField]
    public var add: [HTTPHeaderField]
    /// Names, lower-cased.
    public var remove: [String]

    public init(set: [HTTPHeaderField] = [], add: [HTTPHeaderField] = [], remove: [String] = []) {
        self.set = set
        self.add = add
        self.remove = remove.map { $0.lowercased() }
    }

    public func apply(to headers: inout [HTTPHeaderField]) {
        let replaced = Set(remove + set.map { $0.name.lowercased() })
        headers.removeAll { replaced.contains($0.name.lowercased()) }
        headers += set
        headers += add
    }
}

/// How URLRewrite and RequestRedirect change a request's path.
public enum HTTPPathModifier: Hashable, Sendable {
    /// The whole path (the query is kept).
    case replaceFullPath(String)
    /// Only the part the rule's PathPrefix matched; the rest is kept.
    case replacePrefixMatch(String)
}

public struct URLRewrite: Hashable, Sendable {
    /// Replaces the Host / :authority sent upstream.
    public var hostname: String?
    public var path: HTTPPathModifier?

    public init(hostname: String? = nil, path: HTTPPathModifier? = nil) {
        self.hostname = hostname
        self.path = path
    }
}

/// Answers the request with a redirect instead of forwarding it. What is not
/// written comes from the request: its scheme (http, inside the mesh), host,
/// path and port.
public struct RequestRedirect: Hashable, Sendable {
    public enum Scheme: String, Hashable, Sendable {
        case http, https

        public var wellKnownPort: Int { self == .http ? 80 : 443 }
    }

    /// The statuses Gateway API allows (302 when not written).
    public static let statusCodes: Set<Int> = [301, 302, 303, 307, 308]

    public var scheme: Scheme?
    public var hostname: String?
    public var path: HTTPPathModifier?
    public var port: Int?
    public var statusCode: Int

    public init(scheme: Scheme? = nil, hostname: String? = nil, path: HTTPPathModifier? = nil, port: Int? = nil,
                statusCode: Int = 302) {
        self.scheme = scheme
        self.hostname = hostname
        self.path = path
        self.port = port
        self.statusCode = statusCode
    }
}

/// Copies requests to another Service port; the mirror's answers are dropped.
public struct RequestMirror: Hashable, Sendable {
    public var service: ServiceName
    public var port: Int
    /// 0...1: the share of requests that are copied (1 when not written).
    public var fraction: Double
    /// A mirror of another kind copies nothing; route status names it.
    public var kind: ReferentKind

    public init(service: ServiceName, port: Int, fraction: Double = 1, kind: ReferentKind = .service) {
        self.service = service
        self.port = port
        self.fraction = fraction
        self.kind = kind
    }
}
