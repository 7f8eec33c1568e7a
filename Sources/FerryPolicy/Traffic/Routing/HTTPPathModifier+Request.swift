import FerryMesh

extension Optional where Wrapped == HTTPPathModifier {
    /// The path after the modifier (nil: unchanged), keeping the request's
    /// query. `matchedPrefix` is the PathPrefix the rule matched (held without
    /// a trailing slash), which ReplacePrefixMatch replaces segment-wise: with
    /// prefix /foo and replacement /xyz, /foo/bar → /xyz/bar and /foo → /xyz;
    /// with replacement /, /foo/bar → /bar.
    func path(for request: HTTPRequestInfo, matchedPrefix: String?) -> String {
        let rewritten: String
        switch self {
        case nil:
            return request.path
        case .replaceFullPath(let value):
            rewritten = value
        case .replacePrefixMatch(let replacement):
            let rest = request.pathWithoutQuery.dropFirst((matchedPrefix ?? "").count)
            let head = replacement.hasSuffix("/") ? String(replacement.dropLast()) : replacement
            let joined = head + rest
            rewritten = joined.isEmpty ? "/" : joined
        }
        return request.query.map { rewritten + "?" + $0 } ?? rewritten
    }
}

extension RequestRedirect {
    /// The `Location` to answer with. Requests reach the agent as plain HTTP,
    /// so the request's scheme is http; without a port, a written scheme takes
    /// its well-known port and otherwise the Service port the request was sent
    /// to stays (Gateway API's "listener port"). Default ports are left out.
    func location(for request: HTTPRequestInfo, matchedPrefix: String?, servicePort: Int) -> String {
        let scheme = self.scheme ?? .http
        let port = self.port ?? self.scheme?.wellKnownPort ?? servicePort
        let host = hostname ?? request.host
        let authority = port == scheme.wellKnownPort ? host : "\(host):\(port)"
        return "\(scheme.rawValue)://\(authority)\(path.path(for: request, matchedPrefix: matchedPrefix))"
    }
}
