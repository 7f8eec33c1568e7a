/// Which traffic resources apply to which Service or workload, worked out once
/// per snapshot so per-request lookups are dictionary reads.
struct TrafficIndex: Sendable {
    /// Service key → indexes into `httpRoutes` of routes with a parentRef to it.
    var routesByService: [String: [Int]] = [:]
    /// Service key → indexes into `grpcRoutes` of routes with a parentRef to it.
    var grpcRoutesByService: [String: [Int]] = [:]
    /// Service key → indexes into `destinationRules`, oldest first.
    var destinationRulesByService: [String: [Int]] = [:]
    /// Service key → indexes into `virtualServices`, oldest first.
    var faultsByService: [String: [Int]] = [:]
    /// Service key → index into `rateLimits`.
    var rateLimitByService: [String: Int] = [:]
    /// Workload key → index into `rateLimits`.
    var rateLimitByWorkload: [String: Int] = [:]

    init() {}

    /// Also checks that no two RateLimits claim one target, which would leave
    /// the limit ambiguous; the error names both.
    init(httpRoutes: [HTTPRoute], grpcRoutes: [GRPCRoute], destinationRules: [DestinationRule], virtualServices: [VirtualServiceFaults],
         rateLimits: [RateLimit], located: [ResourceKey: LocatedResource]) throws {
        // Only Service parents attach; others are for route status to report.
        for (index, route) in httpRoutes.enumerated() {
            for key in Set(route.parentRefs.filter { $0.kind == .service }.map(\.service.key)) {
                routesByService[key, default: []].append(index)
            }
        }
        for (index, route) in grpcRoutes.enumerated() {
            for key in Set(route.parentRefs.filter { $0.kind == .service }.map(\.service.key)) {
                grpcRoutesByService[key, default: []].append(index)
            }
        }
        let oldestFirst = { (a: (String?, String), b: (String?, String)) -> Bool in
            // Written timestamps sort before none; RFC 3339 strings compare in time order.
            if a.0 != b.0 { return (a.0 ?? "\u{10FFFF}") < (b.0 ?? "\u{10FFFF}") }
            return a.1 < b.1
        }
        for (index, rule) in destinationRules.enumerated() { destinationRulesByService[rule.host.key, default: []].append(index) }
        for key in destinationRulesByService.keys {
            destinationRulesByService[key]!.sort {
                oldestFirst((destinationRules[$0].creationTimestamp, destinationRules[$0].key),
                            (destinationRules[$1].creationTimestamp, destinationRules[$1].key))
            }
        }
        for (index, faults) in virtualServices.enumerated() {
            for key in Set(faults.hosts.map(\.key)) { faultsByService[key, default: []].append(index) }
        }
        for key in faultsByService.keys {
            faultsByService[key]!.sort {
                oldestFirst((virtualServices[$0].creationTimestamp, virtualServices[$0].key),
                            (virtualServices[$1].creationTimestamp, virtualServices[$1].key))
            }
        }
        for (index, limit) in rateLimits.enumerated() {
            let isService = if case .service = limit.target { true } else { false }
            if let other = isService ? rateLimitByService[limit.targetKey] : rateLimitByWorkload[limit.targetKey] {
                let here = located[ResourceKey(kind: "RateLimit", namespace: limit.namespace, name: limit.name)]
                let first = rateLimits[other]
                throw ResourceError(file: here?.file ?? "", line: here?.line ?? 0,
                                    message: "RateLimit \(limit.key) targets \(isService ? "Service" : "workload") \(limit.targetKey), which RateLimit \(first.key) already limits")
            }
            if isService { rateLimitByService[limit.targetKey] = index } else { rateLimitByWorkload[limit.targetKey] = index }
        }
    }
}
