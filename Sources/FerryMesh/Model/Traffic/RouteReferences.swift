/// What a route's reference names. Ferry routes between core Services; a
/// reference of any other group or kind is kept (so route status can name
/// it and its share of requests is answered with an error, as Gateway API
/// asks) rather than refusing the whole route.
public enum ReferentKind: Hashable, Sendable, CustomStringConvertible {
    case service
    /// Another group or kind, as written: "Gateway", "multicluster.x-k8s.io/ServiceImport".
    case unsupported(String)

    init(group: String, kind: String) {
        if kind == "Service" && ["", "core"].contains(group) {
            self = .service
        } else {
            self = .unsupported(group.isEmpty ? kind : "\(group)/\(kind)")
        }
    }

    public var description: String {
        switch self {
        case .service: "Service"
        case .unsupported(let text): text
        }
    }
}

/// A parentRef of an HTTPRoute or GRPCRoute: the Service whose traffic the
/// route manages (GAMMA), optionally one of its ports.
public struct RouteParentRef: Hashable, Sendable, CustomStringConvertible {
    /// The referent's namespace and name (a Service unless `kind` says otherwise).
    public var service: ServiceName
    /// Limits the route to this Service port.
    public var port: Int?
    /// Limits the route to the Service port of this name.
    public var sectionName: String?
    /// Only `.service` parents attach; others are reported in route status.
    public var kind: ReferentKind

    public init(service: ServiceName, port: Int? = nil, sectionName: String? = nil, kind: ReferentKind = .service) {
        self.service = service
        self.port = port
        self.sectionName = sectionName
        self.kind = kind
    }

    /// "Service demo/echo port 80", as route status names a parent.
    public var description: String {
        var text = "\(kind) \(service.key)"
        if let port { text += " port \(port)" }
        if let sectionName { text += " section \(sectionName)" }
        return text
    }
}

/// A backendRef of an HTTPRoute or GRPCRoute: a Service port to send to, its
/// share of the rule's traffic, and filters that apply only to requests sent
/// to it. (A filter Ferry does not implement there is a problem of the rule.)
public struct RouteBackendRef: Hashable, Sendable {
    public var service: ServiceName
    /// A Service port (not a target port); 0 when an unsupported kind was written without one.
    public var port: Int
    /// Share = weight / sum of the rule's weights; 0 sends nothing.
    public var weight: Int
    /// Applied after the rule's filters, to requests forwarded to this backend only.
    public var filters: [HTTPRouteFilter]
    /// A backend of another kind gets its share of requests answered with an error.
    public var kind: ReferentKind

    public init(service: ServiceName, port: Int, weight: Int = 1, filters: [HTTPRouteFilter] = [], kind: ReferentKind = .service) {
        self.service = service
        self.port = port
        self.weight = weight
        self.filters = filters
        self.kind = kind
    }

    /// "Service demo/echo-v1 port 80".
    public var target: String { "\(kind) \(service.key)\(port > 0 ? " port \(port)" : "")" }
}
