import FerryMesh

/// What the proxy knows about one connection (L4) or one HTTP request (L7) when
/// it asks whether to let it through to a workload.
public struct AuthorizationRequest: Sendable, Hashable {
    /// The workload receiving the traffic, as the current MeshState holds it.
    public var destination: Workload
    public var destinationIP: IPAddress
    public var destinationPort: Int
    /// The peer's identity in the "<trust domain>/ns/<ns>/sa/<sa>" form; nil for
    /// plaintext (then `principals` and `namespaces` can only fail to match).
    public var sourcePrincipal: String?
    /// The peer identity's namespace; nil for plaintext.
    public var sourceNamespace: String?
    /// The connection's source address (`ipBlocks`, `source.ip`); nil when
    /// unknown, which matches no `ipBlocks` and passes every `notIpBlocks`,
    /// as an absent principal does.
    public var sourceIP: IPAddress?
    /// The original client when X-Forwarded-For or PROXY protocol says so
    /// (`remoteIpBlocks`, `remote.ip`); nil means the source address.
    public var remoteIP: IPAddress?
    /// The request's HTTP attributes; nil for plain TCP, which changes how rules
    /// with HTTP-only fields are read (see `CompiledRule`).
    public var http: HTTPRequestAttributes?
    /// A connection whose HTTP requests the sending agent judged one by one
    /// (it acted as the destination's waypoint): what only HTTP can decide is
    /// left to it, and this checks what the connection alone decides. ALLOW
    /// rules count on their non-HTTP parts; DENY and AUDIT rules with HTTP
    /// parts are skipped. So a source denied whatever it asks stays denied
    /// here, even if its agent says otherwise.
    public var httpJudgedUpstream = false

    public init(destination: Workload, destinationIP: IPAddress, destinationPort: Int,
                sourcePrincipal: String? = nil, sourceNamespace: String? = nil, sourceIP: IPAddress?,
                remoteIP: IPAddress? = nil, http: HTTPRequestAttributes? = nil) {
        self.destination = destination
        self.destinationIP = destinationIP
        self.destinationPort = destinationPort
        self.sourcePrincipal = sourcePrincipal
        self.sourceNamespace = sourceNamespace
        self.sourceIP = sourceIP
        self.remoteIP = remoteIP
        self.http = http
    }

    /// From the peer certificate's SPIFFE id (nil for plaintext).
    public init(destination: Workload, destinationIP: IPAddress, destinationPort: Int, source identity: SpiffeID?,
                sourceIP: IPAddress?, remoteIP: IPAddress? = nil, http: HTTPRequestAttributes? = nil) {
        self.init(destination: destination, destinationIP: destinationIP, destinationPort: destinationPort,
                  sourcePrincipal: identity?.principal, sourceNamespace: identity?.namespace, sourceIP: sourceIP,
                  remoteIP: remoteIP, http: http)
    }
}

/// The HTTP attributes AuthorizationPolicy can match.
public struct HTTPRequestAttributes: Sendable, Hashable {
    /// `:authority` or `Host`, as sent ("" when absent).
    public var host: String
    public var method: String
    /// As sent, query included; matched without the query. Normalising the path
    /// (dot segments, duplicate slashes) is the proxy's job, before it asks.
    public var path: String
    /// Names lower-cased; one value per name (join repeated headers with ",").
    public var headers: [String: String]

    public init(host: String, method: String, path: String, headers: [String: String] = [:]) {
        self.host = host
        self.method = method
        self.path = path
        self.headers = headers
    }

    /// What `paths` match: the path up to any '?'.
    var pathWithoutQuery: Substring {
        guard let query = path.utf8.firstIndex(of: UInt8(ascii: "?")) else { return path[...] }
        return path[..<query]
    }
}
