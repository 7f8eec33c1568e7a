import FerryMesh

/// The HTTPRoutes and GRPCRoutes of one MeshState snapshot, compiled per
/// parent Service into entries sorted by Gateway API precedence, plus what a
/// decision needs to resolve backends (Services by key, their endpoints,
/// DestinationRules). Built once per generation (`HTTPRouteTableCache`);
/// deciding reads only. A class: every request takes the table, which should
/// cost one reference count.
///
/// Which routes a client sees follows GAMMA (GEP-1294): routes in the
/// client's own namespace (consumer routes) when there are any for the
/// Service port, else the routes in the Service's namespace (producer
/// routes). Routes in any other namespace apply to no one. Within the routes
/// a client sees, GRPCRoutes take a Service port from HTTPRoutes.
public final class HTTPRouteTable: Sendable {
    public let generation: Int
    public let state: MeshState
    let servicesByKey: [String: MeshService]
    let endpointsByService: [String: [Workload]]
    let routesByService: [String: ServiceRoutes]

    struct ServiceRoutes: Sendable {
        var producer = RouteGroup()
        /// Client namespace → its consumer routes.
        var consumers: [String: RouteGroup] = [:]
    }

    /// The routes of one group (the producer routes, or one namespace's
    /// consumer routes) for one Service.
    struct RouteGroup: Sendable {
        var http: [RouteEntry] = []
        var grpc: [GRPCRouteEntry] = []

        var isEmpty: Bool { http.isEmpty && grpc.isEmpty }

        /// The entries for one port: the GRPCRoutes' when any attach to it,
        /// else the HTTPRoutes' (GEP-1294: GRPCRoute wins over HTTPRoute).
        func entries(forPort port: Int) -> Applicable {
            let grpc = grpc.filter { $0.applies(toPort: port) }
            if !grpc.isEmpty { return .grpc(grpc) }
            let http = http.filter { $0.applies(toPort: port) }
            return http.isEmpty ? .noRoute : .http(http)
        }
    }

    enum Applicable {
        /// No route attaches to the port: requests go to the Service itself.
        case noRoute
        case http([RouteEntry])
        case grpc([GRPCRouteEntry])
    }

    public init(state: MeshState) {
        generation = state.generation
        self.state = state
        var services: [String: MeshService] = [:]
        var endpoints: [String: [Workload]] = [:]
        for service in state.services {
            services[service.key] = service
            endpoints[service.key] = state.endpoints(of: service)
        }
        servicesByKey = services
        endpointsByService = endpoints

        let httpIndexes = Dictionary(uniqueKeysWithValues: state.httpRoutes.enumerated().map { ($1.key, $0) })
        let grpcIndexes = Dictionary(uniqueKeysWithValues: state.grpcRoutes.enumerated().map { ($1.key, $0) })
        var table: [String: ServiceRoutes] = [:]
        for service in state.services {
            var routes = ServiceRoutes()
            func group(_ namespace: String, _ add: (inout RouteGroup) -> Void) {
                if namespace == service.namespace { add(&routes.producer) } else { add(&routes.consumers[namespace, default: RouteGroup()]) }
            }
            for route in state.httpRoutes(for: service) {
                guard let index = httpIndexes[route.key] else { continue }
                group(route.namespace) { $0.http += Self.entries(of: route, at: index, for: service) }
            }
            for route in state.grpcRoutes(for: service) {
                guard let index = grpcIndexes[route.key] else { continue }
                group(route.namespace) { $0.grpc += Self.entries(of: route, at: index, for: service) }
            }
            func sort(_ group: inout RouteGroup) {
                group.http.sort { RouteEntry.precedes($0, $1, routes: state.httpRoutes) }
                group.grpc.sort { GRPCRouteEntry.precedes($0, $1, routes: state.grpcRoutes) }
            }
            sort(&routes.producer)
            for namespace in routes.consumers.keys { sort(&routes.consumers[namespace]!) }
            if !routes.producer.isEmpty || !routes.consumers.isEmpty { table[service.key] = routes }
        }
        routesByService = table
    }

    /// The Service ports a route's parentRefs to this Service name (by number
    /// or by port name); nil for all of them.
    public static func ports(of parentRefs: [RouteParentRef], on service: MeshService) -> Set<Int>? {
        let refs = parentRefs.filter { $0.kind == .service && $0.service.key == service.key }
        var ports: Set<Int> = []
        for ref in refs {
            if ref.port == nil && ref.sectionName == nil { return nil }
            let named = ref.sectionName.map { name in service.ports.filter { $0.name == name }.map(\.port) }
            switch (ref.port, named) {
            case (let port?, let named?): if named.contains(port) { ports.insert(port) }
            case (let port?, nil): ports.insert(port)
            case (nil, let named?): ports.formUnion(named)
            case (nil, nil): break
            }
        }
        return ports
    }

    /// Every match of every rule, scoped to the ports the route's parentRefs name.
    static func entries(of route: HTTPRoute, at routeIndex: Int, for service: MeshService) -> [RouteEntry] {
        let ports = ports(of: route.parentRefs, on: service)
        return route.rules.enumerated().flatMap { ruleIndex, rule in
            rule.matches.enumerated().map { matchIndex, match in
                RouteEntry(routeIndex: routeIndex, ruleIndex: ruleIndex, matchIndex: matchIndex, match: match,
                           hostnames: route.hostnames, ports: ports)
            }
        }
    }

    static func entries(of route: GRPCRoute, at routeIndex: Int, for service: MeshService) -> [GRPCRouteEntry] {
        let ports = ports(of: route.parentRefs, on: service)
        return route.rules.enumerated().flatMap { ruleIndex, rule in
            rule.matches.enumerated().map { matchIndex, match in
                GRPCRouteEntry(routeIndex: routeIndex, ruleIndex: ruleIndex, matchIndex: matchIndex, match: match,
                               hostnames: route.hostnames, ports: ports)
            }
        }
    }

    /// Decides where a request to `service` on Service port `port` goes.
    ///
    /// - Returns: the decision; the default route (the Service itself) when no
    ///   route applies to the port; nil when routes apply but none of their
    ///   rules matches, which Gateway API answers with 404 (a gRPC client
    ///   reads it as UNIMPLEMENTED).
    /// - Parameter clientNamespace: the calling workload's namespace, which
    ///   selects consumer routes and the client-side DestinationRule.
    /// - Parameter rng: draws the weighted backend and mirror sampling.
    public func route<R: RandomNumberGenerator>(_ request: HTTPRequestInfo, service: MeshService, port: Int,
                                                clientNamespace: String? = nil, using rng: inout R) -> RouteDecision? {
        let servicePort = service.port(port) ?? ServicePort(port: port)
        let host = request.host
        let matched: MatchedRule
        switch applicable(service: service, port: port, clientNamespace: clientNamespace) {
        case .noRoute:
            return RouteDecision(action: .forward(backend(service, servicePort, clientNamespace: clientNamespace)),
                                 path: request.path, authority: request.authority)
        case .http(let entries):
            var best: (entry: RouteEntry, score: Int)?
            for entry in entries {
                guard let score = hostnameScore(entry.hostnames, host: host), score > (best?.score ?? -1),
                      entry.match.matches(request) else { continue }
                best = (entry, score)
            }
            guard let entry = best?.entry else { return nil }
            matched = MatchedRule(state.httpRoutes[entry.routeIndex], ruleIndex: entry.ruleIndex, match: entry.match)
        case .grpc(let entries):
            let call = GRPCCallName(path: request.pathWithoutQuery)
            var best: (entry: GRPCRouteEntry, score: Int)?
            for entry in entries {
                guard let score = hostnameScore(entry.hostnames, host: host), score > (best?.score ?? -1),
                      entry.match.matches(request, call: call) else { continue }
                best = (entry, score)
            }
            guard let entry = best?.entry else { return nil }
            matched = MatchedRule(state.grpcRoutes[entry.routeIndex], ruleIndex: entry.ruleIndex)
        }
        return decision(for: matched, request: request, parent: service, parentPort: servicePort,
                        clientNamespace: clientNamespace, using: &rng)
    }

    /// The consumer routes of the client's namespace when any attach to the
    /// port, else the producer routes.
    func applicable(service: MeshService, port: Int, clientNamespace: String?) -> Applicable {
        guard let routes = routesByService[service.key] else { return .noRoute }
        if let clientNamespace, clientNamespace != service.namespace, let consumer = routes.consumers[clientNamespace] {
            switch consumer.entries(forPort: port) {
            case .noRoute: break
            case let entries: return entries
            }
        }
        return routes.producer.entries(forPort: port)
    }

    func decision<R: RandomNumberGenerator>(for rule: MatchedRule, request: HTTPRequestInfo, parent: MeshService,
                                            parentPort: ServicePort, clientNamespace: String?,
                                            using rng: inout R) -> RouteDecision {
        var decision = RouteDecision(action: .respond(status: rule.failureStatus, reason: "no backend"), route: rule.route,
                                     ruleIndex: rule.ruleIndex, path: request.path, authority: request.authority,
                                     timeouts: rule.timeouts, retry: rule.retry.map(RetryPolicy.init))
        // A filter Ferry cannot carry out is never skipped: the rule's requests get an error.
        if let problem = rule.problems.first {
            decision.action = .respond(status: rule.failureStatus, reason: "rule \(rule.ruleIndex) of \(rule.route) is not supported: \(problem.message)")
            return decision
        }
        var chosen: RouteBackendRef?
        if rule.backendRefs.isEmpty {
            decision.action = .forward(backend(parent, parentPort, clientNamespace: clientNamespace))
        } else if let index = WeightedChoice.pick(rule.backendRefs.map(\.weight), using: &rng) {
            // A backend that cannot be used gets its share of requests answered with an error.
            switch resolve(rule.backendRefs[index], clientNamespace: clientNamespace) {
            case .success(let backend):
                decision.action = .forward(backend)
                chosen = rule.backendRefs[index]
            case .failure(let unusable):
                decision.action = .respond(status: rule.failureStatus, reason: unusable.reason)
            }
        } else {
            decision.action = .respond(status: rule.failureStatus, reason: "every backend of the rule has weight 0")
        }
        apply(rule.filters, to: &decision, request: request, matchedPrefix: rule.matchedPrefix, parentPort: parentPort,
              clientNamespace: clientNamespace, using: &rng)
        // A backendRef's own filters apply only to requests sent to it.
        if let chosen {
            apply(chosen.filters, to: &decision, request: request, matchedPrefix: rule.matchedPrefix, parentPort: parentPort,
                  clientNamespace: clientNamespace, using: &rng)
        }
        // A redirected request goes nowhere, copies included.
        if case .redirect = decision.action { decision.mirrors = [] }
        return decision
    }

    func apply<R: RandomNumberGenerator>(_ filters: [HTTPRouteFilter], to decision: inout RouteDecision, request: HTTPRequestInfo,
                                         matchedPrefix: String?, parentPort: ServicePort, clientNamespace: String?,
                                         using rng: inout R) {
        for filter in filters {
            switch filter {
            case .requestHeaderModifier(let modifier): decision.requestHeaders.append(modifier)
            case .responseHeaderModifier(let modifier): decision.responseHeaders.append(modifier)
            case .urlRewrite(let rewrite):
                if let path = rewrite.path { decision.path = Optional(path).path(for: request, matchedPrefix: matchedPrefix) }
                if let hostname = rewrite.hostname { decision.authority = hostname }
            case .requestRedirect(let redirect):
                decision.action = .redirect(status: redirect.statusCode,
                                            location: redirect.location(for: request, matchedPrefix: matchedPrefix, servicePort: parentPort.port))
            case .requestMirror(let mirror):
                // A mirror that cannot be resolved is skipped: a copy must never fail the request.
                if Double.random(in: 0..<1, using: &rng) < mirror.fraction, mirror.kind == .service,
                   let backend = resolve(mirror.service, port: mirror.port, clientNamespace: clientNamespace) {
                    decision.mirrors.append(backend)
                }
            }
        }
    }

    struct Unusable: Error {
        var reason: String
    }

    /// A backendRef as a backend to forward to, or why it cannot be one.
    func resolve(_ ref: RouteBackendRef, clientNamespace: String?) -> Result<RouteBackend, Unusable> {
        guard ref.kind == .service else {
            return .failure(Unusable(reason: "backend \(ref.target) is not supported: only Services (group \"\") are"))
        }
        guard let backend = resolve(ref.service, port: ref.port, clientNamespace: clientNamespace) else {
            return .failure(Unusable(reason: "backend Service \(ref.service.key) port \(ref.port) does not exist"))
        }
        return .success(backend)
    }

    func resolve(_ name: ServiceName, port: Int, clientNamespace: String?) -> RouteBackend? {
        guard let service = servicesByKey[name.key], let servicePort = service.port(port) else { return nil }
        return backend(service, servicePort, clientNamespace: clientNamespace)
    }

    func backend(_ service: MeshService, _ port: ServicePort, clientNamespace: String?) -> RouteBackend {
        let rule = state.destinationRule(for: service, clientNamespace: clientNamespace)
        return RouteBackend(service: service, port: port,
                            policy: ResolvedTrafficPolicy(rule?.trafficPolicy.forPort(port.port) ?? TrafficPolicy(), destinationRule: rule?.key))
    }

    /// The fault rules for requests a client sends to `service` (VirtualServices
    /// naming it); decide with `FaultInjector`.
    public func faults(for service: MeshService) -> [FaultRule] { state.faults(for: service) }
}

/// A rule that matched a request, whichever kind of route holds it: what the
/// decision needs from it.
struct MatchedRule {
    var route: String
    var ruleIndex: Int
    var filters: [HTTPRouteFilter]
    var backendRefs: [RouteBackendRef]
    var timeouts: HTTPRoute.Timeouts
    var retry: HTTPRoute.Retry?
    var problems: [ResourceError]
    /// The PathPrefix matched, which ReplacePrefixMatch replaces.
    var matchedPrefix: String?
    /// The answer when the rule cannot serve a request: 500 for an HTTPRoute;
    /// for a GRPCRoute 503, which gRPC clients read as UNAVAILABLE, the status
    /// Gateway API asks for there.
    var failureStatus: Int

    init(_ route: HTTPRoute, ruleIndex: Int, match: HTTPRouteMatch) {
        let rule = route.rules[ruleIndex]
        self.route = route.key
        self.ruleIndex = ruleIndex
        filters = rule.filters
        backendRefs = rule.backendRefs
        timeouts = rule.timeouts
        retry = rule.retry
        problems = rule.problems
        matchedPrefix = if case .prefix(let prefix) = match.path { prefix } else { nil }
        failureStatus = 500
    }

    init(_ route: GRPCRoute, ruleIndex: Int) {
        let rule = route.rules[ruleIndex]
        self.route = route.key
        self.ruleIndex = ruleIndex
        filters = rule.filters
        backendRefs = rule.backendRefs
        timeouts = HTTPRoute.Timeouts()
        retry = nil
        problems = rule.problems
        matchedPrefix = nil
        failureStatus = 503
    }
}
