import FerryMesh

extension URLRewrite {
    /// The upstream path for a request, keeping its query. `matchedPrefix` is
    /// the PathPrefix the rule matched (held without a trailing slash), which
    /// ReplacePrefixMatch replaces segment-wise: with prefix /foo and
    /// replacement /xyz, /foo/bar → /xyz/bar and /foo → /xyz; with
    /// replacement /, /foo/bar → /bar.
    func path(for request: HTTPRequestInfo, matchedPrefix: String?) -> String {
        let original = request.pathWithoutQuery
        let rewritten: String
        switch path {
        case nil:
            return request.path
        case .replaceFullPath(let value):
            rewritten = value
        case .replacePrefixMatch(let replacement):
            let prefix = matchedPrefix ?? ""
            let rest = original.dropFirst(prefix.count)
            let head = replacement.hasSuffix("/") ? String(replacement.dropLast()) : replacement
            let joined = head + rest
            rewritten = joined.isEmpty ? "/" : joined
        }
        return request.query.map { rewritten + "?" + $0 } ?? rewritten
    }
}
