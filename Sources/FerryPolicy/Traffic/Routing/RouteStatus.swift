import FerryMesh

/// A route's status as a Gateway API controller writes it, one entry per
/// parentRef: `Accepted` and `ResolvedRefs`, and `PartiallyInvalid` when some
/// rules cannot be carried out. Ferry has no API server status to write (the
/// file source has none, and agents do not write to Kubernetes); `ferryctl
/// routes` and config_dump show it instead.
public struct RouteStatus: Codable, Hashable, Sendable {
    public var kind: String
    public var namespace: String
    public var name: String
    /// Where the route was read (a file and line, or "GRPCRoute ns/name" from the API server).
    public var file: String
    public var line: Int
    public var parents: [RouteParentStatus]

    public init(kind: String, namespace: String, name: String, file: String, line: Int, parents: [RouteParentStatus]) {
        self.kind = kind
        self.namespace = namespace
        self.name = name
        self.file = file
        self.line = line
        self.parents = parents
    }
}

public struct RouteParentStatus: Codable, Hashable, Sendable {
    /// "Service demo/echo port 80".
    public var parentRef: String
    public var conditions: [RouteCondition]

    public init(parentRef: String, conditions: [RouteCondition]) {
        self.parentRef = parentRef
        self.conditions = conditions
    }

    public func condition(_ type: String) -> RouteCondition? { conditions.first { $0.type == type } }
}

public struct RouteCondition: Codable, Hashable, Sendable {
    /// Accepted, ResolvedRefs or PartiallyInvalid.
    public var type: String
    /// "True" or "False", as Kubernetes writes condition statuses.
    public var status: String
    /// A reason from the Gateway API: Accepted, NoMatchingParent,
    /// UnsupportedValue, Conflicted (GEP-1294); ResolvedRefs, InvalidKind,
    /// BackendNotFound.
    public var reason: String
    public var message: String

    public init(type: String, status: Bool, reason: String, message: String) {
        self.type = type
        self.status = status ? "True" : "False"
        self.reason = reason
        self.message = message
    }

    public var isTrue: Bool { status == "True" }
}

extension RouteStatus {
    /// Every route of the snapshot, HTTPRoutes, then GRPCRoutes, then the
    /// kinds Ferry does not implement, each sorted by namespace/name.
    public static func all(in state: MeshState) -> [RouteStatus] {
        let report = RouteStatusReport(state: state)
        return state.httpRoutes.map(report.status) + state.grpcRoutes.map(report.status) + state.unsupportedRoutes.map(report.status)
    }
}

/// Works the conditions out from one snapshot.
struct RouteStatusReport {
    let state: MeshState
    let locations: [ResourceKey: LocatedResource]

    init(state: MeshState) {
        self.state = state
        locations = Dictionary(state.resources.map { ($0.resource.key, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// What the conditions need from a route, whatever its kind.
    struct Route {
        var kind: String
        var namespace: String
        var name: String
        var parentRefs: [RouteParentRef]
        /// Per rule: its problems, and its references with their YAML paths.
        var rules: [(problems: [ResourceError], backends: [(String, RouteBackendRef)], mirrors: [(String, RequestMirror)])]
    }

    func status(_ route: HTTPRoute) -> RouteStatus {
        status(Route(kind: "HTTPRoute", namespace: route.namespace, name: route.name, parentRefs: route.parentRefs,
                     rules: route.rules.enumerated().map { index, rule in
                         Self.references(index, filters: rule.filters, backendRefs: rule.backendRefs, problems: rule.problems)
                     }))
    }

    func status(_ route: GRPCRoute) -> RouteStatus {
        status(Route(kind: "GRPCRoute", namespace: route.namespace, name: route.name, parentRefs: route.parentRefs,
                     rules: route.rules.enumerated().map { index, rule in
                         Self.references(index, filters: rule.filters, backendRefs: rule.backendRefs, problems: rule.problems)
                     }))
    }

    func status(_ route: UnsupportedRoute) -> RouteStatus {
        let location = locations[ResourceKey(kind: route.kind, namespace: route.namespace, name: route.name)]
        let parents = route.parentRefs.map { ref in
            RouteParentStatus(parentRef: ref.description, conditions: [
                RouteCondition(type: "Accepted", status: false, reason: "UnsupportedValue",
                               message: "Ferry does not implement \(route.kind): traffic to this parent is carried as its Service defines it, at L4"),
            ])
        }
        return RouteStatus(kind: route.kind, namespace: route.namespace, name: route.name, file: location?.file ?? "",
                           line: location?.line ?? 0, parents: parents)
    }

    static func references(_ index: Int, filters: [HTTPRouteFilter], backendRefs: [RouteBackendRef], problems: [ResourceError])
        -> (problems: [ResourceError], backends: [(String, RouteBackendRef)], mirrors: [(String, RequestMirror)]) {
        let rulePath = "spec.rules[\(index)]"
        var mirrors: [(String, RequestMirror)] = []
        func collect(_ filters: [HTTPRouteFilter], at path: String) {
            for case .requestMirror(let mirror) in filters { mirrors.append(("\(path).filters: RequestMirror", mirror)) }
        }
        collect(filters, at: rulePath)
        var backends: [(String, RouteBackendRef)] = []
        for (refIndex, ref) in backendRefs.enumerated() {
            let path = "\(rulePath).backendRefs[\(refIndex)]"
            backends.append((path, ref))
            collect(ref.filters, at: path)
        }
        return (problems, backends, mirrors)
    }

    func status(_ route: Route) -> RouteStatus {
        let location = locations[ResourceKey(kind: route.kind, namespace: route.namespace, name: route.name)]
        let resolved = resolvedRefs(route)
        let partial = partiallyInvalid(route)
        let parents = route.parentRefs.enumerated().map { index, ref in
            RouteParentStatus(parentRef: ref.description,
                              conditions: [accepted(route, parent: ref, at: index), resolved] + (partial.map { [$0] } ?? []))
        }
        return RouteStatus(kind: route.kind, namespace: route.namespace, name: route.name, file: location?.file ?? "",
                           line: location?.line ?? 0, parents: parents)
    }

    func accepted(_ route: Route, parent ref: RouteParentRef, at index: Int) -> RouteCondition {
        func refused(_ reason: String, _ message: String) -> RouteCondition {
            RouteCondition(type: "Accepted", status: false, reason: reason, message: message)
        }
        let path = "spec.parentRefs[\(index)]"
        if case .unsupported(let kind) = ref.kind {
            let hint = kind == "gateway.networking.k8s.io/Service" ? " (the group defaults to gateway.networking.k8s.io when omitted: write group: \"\")" : ""
            return refused("NoMatchingParent", "\(path) names a \(kind): Ferry, a mesh without Gateways, attaches routes to Services (group \"\", kind Service)\(hint)")
        }
        guard let service = state.service(key: ref.service.key) else {
            return refused("NoMatchingParent", "\(path): Service \(ref.service.key) does not exist")
        }
        let named = HTTPRouteTable.ports(of: [ref], on: service)
        if let port = ref.port, service.port(port) == nil {
            return refused("NoMatchingParent", "\(path): Service \(service.key) has no port \(port)")
        }
        if let section = ref.sectionName, named?.isEmpty ?? false {
            return refused("NoMatchingParent", "\(path): Service \(service.key) has no port named \(section)\(ref.port.map { " with number \($0)" } ?? "")")
        }
        let ports = service.ports.filter { named?.contains($0.port) ?? true }
        let httpPorts = ports.filter(\.isHTTP).map(\.port)
        guard !httpPorts.isEmpty else {
            let list = ports.map { "\($0.port)" }.joined(separator: ", ")
            return refused("NoMatchingParent", "\(path): Service \(service.key) port \(list) does not speak HTTP (its appProtocol, or else its name, must say http, http2, grpc, h2c …)")
        }
        if !route.rules.isEmpty, route.rules.allSatisfy({ !$0.problems.isEmpty }) {
            let problems = route.rules.flatMap(\.problems).map(\.description).joined(separator: "; ")
            return refused("UnsupportedValue", "no rule can be carried out, each answers its requests with an error: \(problems)")
        }
        var takenBy: [String] = []
        var freePorts = httpPorts
        if route.kind == "HTTPRoute" {
            // GEP-1294: where a GRPCRoute of the same group attaches to a Service port, it wins.
            for grpc in state.grpcRoutes(for: service) where grpc.namespace == route.namespace {
                let grpcPorts = HTTPRouteTable.ports(of: grpc.parentRefs, on: service)
                let taken = freePorts.filter { grpcPorts?.contains($0) ?? true }
                guard !taken.isEmpty else { continue }
                takenBy.append("port \(taken.map(String.init).joined(separator: ", ")) by GRPCRoute \(grpc.key)")
                freePorts.removeAll(where: taken.contains)
            }
            if freePorts.isEmpty {
                return refused("Conflicted", "a GRPCRoute takes every port this route names (\(takenBy.joined(separator: "; "))): GEP-1294 applies one route kind per Service port, GRPCRoute first")
            }
        }
        let role = route.namespace == service.namespace
            ? "a producer route: it applies to every client"
            : "a consumer route: it applies to clients in namespace \(route.namespace) only"
        let scope = named == nil ? "every port" : "port \(httpPorts.map(String.init).joined(separator: ", "))"
        let taken = takenBy.isEmpty ? "" : "; taken from it: \(takenBy.joined(separator: "; "))"
        return RouteCondition(type: "Accepted", status: true, reason: "Accepted",
                              message: "attached to Service \(service.key), \(scope); \(role)\(taken)")
    }

    /// One condition for the whole route: every backendRef and mirror, with
    /// the reason of the first that does not resolve. Namespaces never make a
    /// reference fail: GAMMA needs no ReferenceGrant (GEP-1294).
    func resolvedRefs(_ route: Route) -> RouteCondition {
        var failures: [(reason: String, message: String)] = []
        func check(_ path: String, kind: ReferentKind, service: ServiceName, port: Int, what: String) {
            if case .unsupported(let other) = kind {
                failures.append(("InvalidKind", "\(path) names a \(other): only Services (group \"\") are supported; \(what)"))
            } else if let found = state.service(key: service.key) {
                if found.port(port) == nil { failures.append(("BackendNotFound", "\(path): Service \(service.key) has no port \(port); \(what)")) }
            } else {
                failures.append(("BackendNotFound", "\(path): Service \(service.key) does not exist; \(what)"))
            }
        }
        let failureAnswer = route.kind == "GRPCRoute" ? "UNAVAILABLE" : "500"
        for rule in route.rules {
            for (path, ref) in rule.backends {
                let what = ref.weight == 0 ? "it has weight 0" : "its share of requests is answered with \(failureAnswer)"
                check(path, kind: ref.kind, service: ref.service, port: ref.port, what: what)
            }
            for (path, mirror) in rule.mirrors {
                check(path, kind: mirror.kind, service: mirror.service, port: mirror.port, what: "nothing is mirrored there")
            }
        }
        guard let first = failures.first else {
            return RouteCondition(type: "ResolvedRefs", status: true, reason: "ResolvedRefs", message: "every reference resolves")
        }
        return RouteCondition(type: "ResolvedRefs", status: false, reason: first.reason,
                              message: failures.map(\.message).joined(separator: "; "))
    }

    /// Set only when some rules, not all, cannot be carried out (Gateway API:
    /// never on a fully valid or fully invalid route). Ferry's reading of
    /// "Drop Rule": the rule no longer routes anything; the requests it
    /// matches are answered with an error rather than falling through to a
    /// less specific rule, since the filter it holds must not be skipped.
    func partiallyInvalid(_ route: Route) -> RouteCondition? {
        let dropped = route.rules.enumerated().filter { !$0.element.problems.isEmpty }
        guard !dropped.isEmpty, dropped.count < route.rules.count else { return nil }
        let answer = route.kind == "GRPCRoute" ? "UNAVAILABLE" : "500"
        let text = dropped.map { index, rule in
            "Dropped Rule \(index): \(rule.problems.map(\.description).joined(separator: "; ")); requests it matches are answered with \(answer)"
        }
        return RouteCondition(type: "PartiallyInvalid", status: true, reason: "UnsupportedValue", message: text.joined(separator: ". "))
    }
}
