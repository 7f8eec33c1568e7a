import FerryMesh

/// One `matches` entry of one rule, placed in the Gateway API order of
/// precedence for one parent Service. The table keeps entries sorted so the
/// first that matches a request (among those with the best hostname fit) wins.
struct RouteEntry: Sendable {
    let routeIndex: Int
    let ruleIndex: Int
    let matchIndex: Int
    let match: HTTPRouteMatch
    let hostnames: [String]
    /// Service ports the route applies to; nil for all of them.
    let ports: Set<Int>?

    /// Gateway API: an Exact path, then the longest PathPrefix, then method,
    /// then most header matches, then most query matches. Regex paths come
    /// after every prefix (their precedence is left to implementations).
    /// Remaining ties go to the oldest route, then namespace/name, then rule
    /// and match order.
    static func precedes(_ a: RouteEntry, _ b: RouteEntry, routes: [HTTPRoute]) -> Bool {
        let (ka, kb) = (a.specificity, b.specificity)
        if ka != kb { return ka.lexicographicallyPrecedes(kb, by: >) }
        let (ra, rb) = (routes[a.routeIndex], routes[b.routeIndex])
        if ra.creationTimestamp != rb.creationTimestamp {
            // A written timestamp is older than none; RFC 3339 compares as text.
            return (ra.creationTimestamp ?? "\u{10FFFF}") < (rb.creationTimestamp ?? "\u{10FFFF}")
        }
        if ra.key != rb.key { return ra.key < rb.key }
        return (a.ruleIndex, a.matchIndex) < (b.ruleIndex, b.matchIndex)
    }

    /// Larger is more specific, compared left to right.
    var specificity: [Int] {
        let (kind, length): (Int, Int) = switch match.path {
        case .exact(let value): (2, value.utf8.count)
        case .prefix(let value): (1, value.utf8.count)
        case .regularExpression: (0, 0)
        }
        return [kind, length, match.method == nil ? 0 : 1, match.headers.count, match.queryParams.count]
    }

    func applies(toPort port: Int) -> Bool { ports?.contains(port) ?? true }
}
