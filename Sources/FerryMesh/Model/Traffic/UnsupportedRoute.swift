/// A Gateway API route of a kind Ferry does not implement (TCPRoute,
/// TLSRoute, UDPRoute). It is read as far as its parents, so route status can
/// say, on each of them, that it is not in force; traffic to those Services
/// keeps flowing as the Service itself defines it.
public struct UnsupportedRoute: Hashable, Sendable {
    public static let kinds: Set<String> = ["TCPRoute", "TLSRoute", "UDPRoute"]

    public var kind: String
    public var name: String
    public var namespace: String
    public var parentRefs: [RouteParentRef]

    public init(kind: String, name: String, namespace: String, parentRefs: [RouteParentRef]) {
        self.kind = kind
        self.name = name
        self.namespace = namespace
        self.parentRefs = parentRefs
    }

    public var key: String { "\(namespace)/\(name)" }

    init(kind: String, document: [String: YAMLField], root: YAMLField) throws {
        let meta = try ObjectMeta(document["metadata"], in: root)
        let spec = try document.fields("spec")
        self.init(kind: kind, name: meta.name, namespace: meta.namespace,
                  parentRefs: try spec.list("parentRefs").map { try HTTPRoute.parentRef($0, routeNamespace: meta.namespace) })
    }
}
