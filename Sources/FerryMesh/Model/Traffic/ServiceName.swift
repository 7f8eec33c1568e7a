/// A Service named by namespace and name, as traffic resources refer to it.
public struct ServiceName: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var name: String
    public var namespace: String

    public init(name: String, namespace: String) {
        self.name = name
        self.namespace = namespace
    }

    /// "namespace/name", the same form as `MeshService.key`.
    public var key: String { "\(namespace)/\(name)" }
    public var description: String { key }
    public static func < (a: ServiceName, b: ServiceName) -> Bool { a.key < b.key }

    /// The cluster DNS domain that Istio host names end with.
    public static let clusterDomain = "cluster.local"

    /// Reads an Istio `host` as Istio resolves it: a short name ("reviews") is a
    /// Service in the resource's own namespace, and a fully qualified name
    /// ("reviews.prod.svc.cluster.local") names its namespace. Anything else
    /// (wildcards, external names, "reviews.prod") cannot name a Ferry Service,
    /// since Ferry has no ServiceEntry, so it is refused rather than matching nothing.
    static func istioHost(_ field: YAMLField, namespace: String) throws -> ServiceName {
        let host = try field.string().lowercased()
        guard !host.isEmpty else { throw field.error("\(field.path) must not be empty") }
        if host.contains("*") {
            throw field.error("\(field.path): wildcard host '\(host)' is not supported: name one Service")
        }
        let labels = host.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        if labels.count == 1 { return ServiceName(name: host, namespace: namespace) }
        let suffix = ["svc"] + clusterDomain.split(separator: ".").map(String.init)
        if labels.count == 2 + suffix.count, Array(labels.suffix(suffix.count)) == suffix,
           !labels[0].isEmpty, !labels[1].isEmpty {
            return ServiceName(name: labels[0], namespace: labels[1])
        }
        throw field.error("\(field.path): '\(host)' does not name a Service: write its short name or <name>.<namespace>.svc.\(clusterDomain)")
    }
}
