import FerryMesh

/// Gateway API matching of one `matches` entry against a request.
extension HTTPRouteMatch {
    public func matches(_ request: HTTPRequestInfo) -> Bool {
        if let method, method != request.method { return false }
        guard path.matches(request.pathWithoutQuery) else { return false }
        for header in headers {
            guard let value = request.headers[header.name], header.value.matches(value) else { return false }
        }
        for parameter in queryParams {
            guard let value = request.queryParameter(parameter.name), parameter.value.matches(value) else { return false }
        }
        return true
    }
}

extension HTTPRouteMatch.PathMatch {
    /// PathPrefix compares whole segments: "/foo" matches "/foo", "/foo/" and
    /// "/foo/bar" but not "/foobar".
    public func matches(_ path: Substring) -> Bool {
        switch self {
        case .exact(let value):
            return path.utf8.elementsEqual(value.utf8)
        case .prefix(let prefix):
            guard path.utf8.starts(with: prefix.utf8) else { return false }
            let rest = path.utf8.dropFirst(prefix.utf8.count)
            return prefix.isEmpty || rest.isEmpty || rest.first == UInt8(ascii: "/")
        case .regularExpression(let regex):
            return regex.wholeMatch(path)
        }
    }
}

/// How well a route's hostnames fit a request's host: nil when none fits, 0
/// when the route names none (it takes any host). An exact name beats a
/// wildcard, and a longer name beats a shorter one.
func hostnameScore(_ hostnames: [String], host: String) -> Int? {
    if hostnames.isEmpty { return 0 }
    var best: Int?
    for name in hostnames {
        let score: Int?
        if name.hasPrefix("*.") {
            let suffix = name.dropFirst()  // ".example.com"
            score = host.hasSuffix(suffix) && host.count > suffix.count ? 1_000_000 + name.count : nil
        } else {
            score = host == name ? 2_000_000 + name.count : nil
        }
        if let score, score > (best ?? -1) { best = score }
    }
    return best
}
