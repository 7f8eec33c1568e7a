import FerryMesh

/// What the traffic decisions read from one HTTP request. The proxy fills it
/// from the request head; nothing here touches the body.
public struct HTTPRequestInfo: Sendable, Hashable {
    public var method: String
    /// As sent, query included ("/items?id=7"). Normalising it (dot segments,
    /// duplicate slashes) is the proxy's job, before it asks.
    public var path: String
    /// `:authority` or `Host`, as sent; it may carry a port.
    public var authority: String { didSet { host = Self.host(of: authority) } }
    /// The authority without its port, lower-cased: what hostnames match.
    /// Kept, not computed: route matching and policy read it per request.
    public private(set) var host: String
    /// Names lower-cased; repeated headers joined with ",".
    public var headers: [String: String]
    /// The client's address (consistent hashing on source IP).
    public var sourceIP: IPAddress

    public init(method: String, path: String, authority: String, headers: [String: String] = [:], sourceIP: IPAddress) {
        self.method = method
        self.path = path
        self.authority = authority
        host = Self.host(of: authority)
        self.headers = headers
        self.sourceIP = sourceIP
    }

    /// The path up to any '?': what path matches compare.
    public var pathWithoutQuery: Substring {
        guard let mark = path.firstIndex(of: "?") else { return path[...] }
        return path[..<mark]
    }

    /// The query after '?', or nil when there is none.
    public var query: Substring? {
        path.firstIndex(of: "?").map { path[path.index(after: $0)...] }
    }

    /// The first value of a query parameter, as sent (not percent-decoded);
    /// "" for a parameter written without '='.
    public func queryParameter(_ name: String) -> Substring? {
        guard let query else { return nil }
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let key = pair.prefix { $0 != "=" }
            if key == name[...] { return pair.dropFirst(key.count + (key.count < pair.count ? 1 : 0)) }
        }
        return nil
    }

    private static func host(of authority: String) -> String {
        var text = Substring(authority)
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            text = text[...close]  // [v6]:port → [v6]
        } else if let colon = text.lastIndex(of: ":"), text.firstIndex(of: ":") == colon {
            text = text[..<colon]
        }
        return text.lowercased()
    }
}
