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
    /// nil when unknown.
    public var sourceIP: IPAddress?

    public init(method: String, path: String, authority: String, headers: [String: String] = [:], sourceIP: IPAddress?) {
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

    /// Works on UTF-8 bytes: the separators are ASCII, and Character-wise
    /// scanning costs more than the rest of a route match.
    private static func host(of authority: String) -> String {
        let bytes = authority.utf8
        var end = bytes.endIndex
        if bytes.first == UInt8(ascii: "[") {
            if let close = bytes.firstIndex(of: UInt8(ascii: "]")) { end = bytes.index(after: close) }  // [v6]:port → [v6]
        } else if let colon = bytes.lastIndex(of: UInt8(ascii: ":")), bytes.firstIndex(of: UInt8(ascii: ":")) == colon {
            end = colon
        }
        let host = authority[..<end]
        let needsLowering = host.utf8.contains { (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0) || $0 >= 0x80 }
        return needsLowering ? host.lowercased() : String(host)
    }
}
