import FerryMesh

/// The HTTPRoutes of one MeshState snapshot, compiled per parent Service into
/// entries sorted by Gateway API precedence, plus what a decision needs to
/// resolve backends (Services by key, their endpoints, DestinationRules).
/// Built once per generation (`HTTPRouteTableCache`); deciding reads only.
/// A class: every request takes the table, which should cost one reference count.
///
/// Which routes a client sees follows GAMMA: routes in the client's own
/// namespace (consumer routes) when there are any for the Service, else the
/// routes in the Service's namespace (producer routes). Routes in any other
/// namespace apply to no one.
public final class HTTPRouteTable: Sendable {
    public let generation: Int
    public let state: MeshState
    let servicesByKey: [String: MeshService]
    let endpointsByService: [String: [Workload]]
    let routesByService: [String: ServiceRoutes]

    struct ServiceRoutes: Sendable {
        var producer: [RouteEntry] = []
        /// Client namespace → its consumer routes' entries.
        var consumers: [String: [RouteEntry]] = [:]
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

        let routeIndexes = Dictionary(uniqueKeysWithValues: state.httpRoutes.enumerated().map { ($1.key, $0) })
        var table: [String: ServiceRoutes] = [:]
        for service in state.services {
            var routes = ServiceRoutes()
            for route in state.httpRoutes(for: service) {
                guard let routeIndex = routeIndexes[route.key] else { continue }
                let entries = Self.entries(of: route, at: routeIndex, for: service)
                if route.namespace == service.namespace {
                    routes.producer += entries
                } else {
                    routes.consumers[route.namespace, default: []] += entries
                }
            }
            let order = { (a: RouteEntry, b: RouteEntry) in RouteEntry.precedes(a, b, routes: state.httpRoutes) }
            routes.producer.sort(by: order)
            for namespace in routes.consumers.keys { routes.consumers[namespace]!.sort(by: order) }
            if !routes.producer.isEmpty || !routes.consumers.isEmpty { table[service.key] = routes }
        }
        routesByService = table
    }

    /// Every match of every rule, scoped to the ports the route's parentRefs
    /// to this Service name (by number or by port name).
    static func entries(of route: HTTPRoute, at routeIndex: Int, for service: MeshService) -> [RouteEntry] {
        let refs = route.parentRefs.filter { $0.service.key == service.key }
        var ports: Set<Int>? = []
        for ref in refs {
            if ref.port == nil && ref.sectionName == nil { ports = nil; break }
            let named = ref.sectionName.map { name in service.ports.filter { $0.name == name }.map(\.port) }
            switch (ref.port, named) {
            case (let port?, let named?): if named.contains(port) { ports?.insert(port) }
            case (let port?, nil): ports?.insert(port)
            case (nil, let named?): ports?.formUnion(named)
            case (nil, nil): break
            }
        }
        return route.rules.enumerated().flatMap { ruleIndex, rule in
            rule.matches.enumerated().map { matchIndex, match in
                RouteEntry(routeIndex: routeIndex, ruleIndex: ruleIndex, matchIndex: matchIndex, match: match,
                           hostnames: route.hostnames, ports: ports)
            }
        }
    }

    /// Decides where a request to `service` on Service port `port` goes.
    ///
    /// - Returns: the decision; the default route (the Service itself) when no
    ///   HTTPRoute applies to the port; nil when routes apply but none of their
    ///   rules matches, which Gateway API answers with 404.
    /// - Parameter clientNamespace: the calling workload's namespace, which
    ///   selects consumer routes and the client-side DestinationRule.
    /// - Parameter rng: draws the weighted backend and mirror sampling.
    public func route<R: RandomNumberGenerator>(_ request: HTTPRequestInfo, service: MeshService, port: Int,
                                                clientNamespace: String? = nil, using rng: inout R) -> RouteDecision? {
        let servicePort = service.port(port) ?? ServicePort(port: port)
        let entries = applicableEntries(service: service, port: port, clientNamespace: clientNamespace)
        guard !entries.isEmpty else {
            return RouteDecision(action: .forward(backend(service, servicePort, clientNamespace: clientNamespace)),
                                 path: request.path, authority: request.authority)
        }
        let host = request.host
        var best: (entry: RouteEntry, score: Int)?
        for entry in entries {
            guard let score = hostnameScore(entry.hostnames, host: host), score > (best?.score ?? -1),
                  entry.match.matches(request) else { continue }
            best = (entry, score)
        }
        guard let entry = best?.entry else { return nil }
        return decision(for: entry, request: request, parent: service, parentPort: servicePort,
                        clientNamespace: clientNamespace, using: &rng)
    }

    func applicableEntries(service: MeshService, port: Int, clientNamespace: String?) -> [RouteEntry] {
        guard let routes = routesByService[service.key] else { return [] }
        if let clientNamespace, clientNamespace != service.namespace,
           let consumer = routes.consumers[clientNamespace]?.filter({ $0.applies(toPort: port) }), !consumer.isEmpty {
            return consumer
        }
        return routes.producer.filter { $0.applies(toPort: port) }
    }

    func decision<R: RandomNumberGenerator>(for entry: RouteEntry, request: HTTPRequestInfo, parent: MeshService,
                                            parentPort: ServicePort, clientNamespace: String?,
                                            using rng: inout R) -> RouteDecision {
        let route = state.httpRoutes[entry.routeIndex]
        let rule = route.rules[entry.ruleIndex]
        var decision = RouteDecision(action: .respond(status: 500, reason: "no backend"), route: route.key,
                                     ruleIndex: entry.ruleIndex, path: request.path, authority: request.authority,
                                     timeouts: rule.timeouts, retry: rule.retry.map(RetryPolicy.init))
        if rule.backendRefs.isEmpty {
            decision.action = .forward(backend(parent, parentPort, clientNamespace: clientNamespace))
        } else if let index = WeightedChoice.pick(rule.backendRefs.map(\.weight), using: &rng) {
            let ref = rule.backendRefs[index]
            if let backend = resolve(ref.service, port: ref.port, clientNamespace: clientNamespace) {
                decision.action = .forward(backend)
            } else {
                decision.action = .respond(status: 500, reason: "backend Service \(ref.service.key) port \(ref.port) does not exist")
            }
        } else {
            decision.action = .respond(status: 500, reason: "every backend of the rule has weight 0")
        }
        let matchedPrefix: String? = if case .prefix(let prefix) = entry.match.path { prefix } else { nil }
        for filter in rule.filters {
            switch filter {
            case .requestHeaderModifier(let modifier): decision.requestHeaders = modifier
            case .responseHeaderModifier(let modifier): decision.responseHeaders = modifier
            case .urlRewrite(let rewrite):
                decision.path = rewrite.path.path(for: request, matchedPrefix: matchedPrefix)
                if let hostname = rewrite.hostname { decision.authority = hostname }
            case .requestRedirect(let redirect):
                decision.action = .redirect(status: redirect.statusCode,
                                            location: redirect.location(for: request, matchedPrefix: matchedPrefix, servicePort: parentPort.port))
            case .requestMirror(let mirror):
                // A mirror naming a missing Service is skipped: a copy must never fail the request.
                if Double.random(in: 0..<1, using: &rng) < mirror.fraction,
                   let backend = resolve(mirror.service, port: mirror.port, clientNamespace: clientNamespace) {
                    decision.mirrors.append(backend)
                }
            }
        }
        // A redirected request goes nowhere, copies included.
        if case .redirect = decision.action { decision.mirrors = [] }
        return decision
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
