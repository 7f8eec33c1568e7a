import FerryMesh

/// One `matches` entry of one GRPCRoute rule, placed in the Gateway API
/// order of precedence for one parent Service, as `RouteEntry` is for
/// HTTPRoutes.
struct GRPCRouteEntry: Sendable {
    let routeIndex: Int
    let ruleIndex: Int
    let matchIndex: Int
    let match: GRPCRouteMatch
    let hostnames: [String]
    /// Service ports the route applies to; nil for all of them.
    let ports: Set<Int>?

    /// Gateway API GRPCRouteRule: the most characters in a matching service,
    /// then in a matching method, then the most header matches (the hostname
    /// comes first, at match time, as for HTTPRoutes). A regex counts as no
    /// characters: how specific a pattern is has no defined measure. Ties go
    /// to the oldest route, then namespace/name, then rule and match order.
    static func precedes(_ a: GRPCRouteEntry, _ b: GRPCRouteEntry, routes: [GRPCRoute]) -> Bool {
        let (ka, kb) = (a.specificity, b.specificity)
        if ka != kb { return ka.lexicographicallyPrecedes(kb, by: >) }
        let (ra, rb) = (routes[a.routeIndex], routes[b.routeIndex])
        if ra.creationTimestamp != rb.creationTimestamp {
            return (ra.creationTimestamp ?? "\u{10FFFF}") < (rb.creationTimestamp ?? "\u{10FFFF}")
        }
        if ra.key != rb.key { return ra.key < rb.key }
        return (a.ruleIndex, a.matchIndex) < (b.ruleIndex, b.matchIndex)
    }

    var specificity: [Int] {
        func characters(_ value: ValueMatch?) -> Int {
            if case .exact(let text) = value { return text.utf8.count }
            return 0
        }
        return [characters(match.method?.service), characters(match.method?.method), match.headers.count]
    }

    func applies(toPort port: Int) -> Bool { ports?.contains(port) ?? true }
}

/// The service and method a gRPC call names in its path, "/package.Service/Method".
struct GRPCCallName {
    let service: Substring
    let method: Substring

    init?(path: Substring) {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].isEmpty, !parts[1].isEmpty, !parts[2].isEmpty else { return nil }
        service = parts[1]
        method = parts[2]
    }
}

extension GRPCRouteMatch {
    /// `call` is the request's path read as a gRPC call, nil when it is not one.
    func matches(_ request: HTTPRequestInfo, call: GRPCCallName?) -> Bool {
        if let method {
            guard let call else { return false }
            if let service = method.service, !service.matches(call.service) { return false }
            if let name = method.method, !name.matches(call.method) { return false }
        }
        for header in headers {
            guard let value = request.headers[header.name], header.value.matches(value) else { return false }
        }
        return true
    }
}
