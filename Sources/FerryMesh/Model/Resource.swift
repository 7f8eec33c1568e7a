import Yams

/// One configuration object, typed. Both sources (files, Kubernetes API) produce
/// these, and `MeshState` is built from a set of them.
public enum Resource: Sendable, Hashable {
    case meshConfig(name: String, MeshConfig)
    case node(MeshNode)
    case namespace(MeshNamespace)
    case workload(Workload)
    case service(MeshService)
    case endpointSlice(EndpointSlice)
    case authorizationPolicy(AuthorizationPolicy)
    case peerAuthentication(PeerAuthentication)
    case httpRoute(HTTPRoute)
    case grpcRoute(GRPCRoute)
    /// A Gateway API route kind Ferry does not implement (TCPRoute, TLSRoute,
    /// UDPRoute): kept so route status can say so.
    case unsupportedRoute(UnsupportedRoute)
    case destinationRule(DestinationRule)
    /// A VirtualService, of which Ferry reads only fault injection.
    case virtualService(VirtualServiceFaults)
    case rateLimit(RateLimit)

    /// Identity for duplicate detection and for watch updates.
    public var key: ResourceKey {
        switch self {
        case .meshConfig(let name, _): ResourceKey(kind: "MeshConfig", namespace: "", name: name)
        case .node(let node): ResourceKey(kind: "Node", namespace: "", name: node.name)
        case .namespace(let ns): ResourceKey(kind: "Namespace", namespace: "", name: ns.name)
        case .workload(let w): ResourceKey(kind: w.source.rawValue, namespace: w.namespace, name: w.name)
        case .service(let s): ResourceKey(kind: "Service", namespace: s.namespace, name: s.name)
        case .endpointSlice(let s): ResourceKey(kind: "EndpointSlice", namespace: s.namespace, name: s.name)
        case .authorizationPolicy(let p): ResourceKey(kind: "AuthorizationPolicy", namespace: p.namespace, name: p.name)
        case .peerAuthentication(let p): ResourceKey(kind: "PeerAuthentication", namespace: p.namespace, name: p.name)
        case .httpRoute(let r): ResourceKey(kind: "HTTPRoute", namespace: r.namespace, name: r.name)
        case .grpcRoute(let r): ResourceKey(kind: "GRPCRoute", namespace: r.namespace, name: r.name)
        case .unsupportedRoute(let r): ResourceKey(kind: r.kind, namespace: r.namespace, name: r.name)
        case .destinationRule(let r): ResourceKey(kind: "DestinationRule", namespace: r.namespace, name: r.name)
        case .virtualService(let v): ResourceKey(kind: "VirtualService", namespace: v.namespace, name: v.name)
        case .rateLimit(let r): ResourceKey(kind: "RateLimit", namespace: r.namespace, name: r.name)
        }
    }
}

public struct ResourceKey: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var kind: String
    public var namespace: String
    public var name: String

    public init(kind: String, namespace: String, name: String) {
        self.kind = kind
        self.namespace = namespace
        self.name = name
    }

    public var description: String { namespace.isEmpty ? "\(kind) \(name)" : "\(kind) \(namespace)/\(name)" }
    public static func < (a: ResourceKey, b: ResourceKey) -> Bool { a.description < b.description }
}

/// A resource together with where it came from, for messages.
public struct LocatedResource: Sendable, Hashable {
    public var resource: Resource
    public var file: String
    public var line: Int

    public init(resource: Resource, file: String, line: Int) {
        self.resource = resource
        self.file = file
        self.line = line
    }
}

/// Turns YAML (or JSON) documents into resources. Kinds of the API groups Ferry
/// owns or implements are checked strictly; kinds of other groups (Deployments,
/// ConfigMaps …) are skipped, so a directory of ordinary manifests can be used.
public enum ResourceDecoder {
    /// API groups whose kinds Ferry must understand: an unknown kind there is a typo.
    static let strictGroups: Set<String> = [
        "ferry.dev", "security.istio.io", "networking.istio.io", "gateway.networking.k8s.io",
    ]

    /// The kinds `decode(_:)` turns into resources. Sources that ask for kinds by
    /// name (the Kubernetes source) skip the others; keep it in step with the
    /// switch below (FerryKubernetesTests checks that kinds left out really are).
    public static let decodedKinds: Set<String> = [
        "MeshConfig", "Node", "Namespace", "Pod", "Service", "EndpointSlice", "WorkloadEntry",
        "AuthorizationPolicy", "PeerAuthentication", "HTTPRoute", "GRPCRoute", "DestinationRule", "VirtualService", "RateLimit",
    ]

    public static func decode(yaml text: String, file: String) throws -> [LocatedResource] {
        var documents: [Node] = []
        do {
            // YamlSequence swallows a parse error into `.error` and just ends, so
            // iterate by hand and check.
            var sequence = try Yams.compose_all(yaml: text)
            while let node = sequence.next() { documents.append(node) }
            if let error = sequence.error { throw error }
        } catch let error as YamlError {
            throw ResourceError(file: file, line: Self.line(of: error), message: "malformed YAML: \(Self.problem(of: error))")
        } catch {
            throw ResourceError(file: file, line: 0, message: "malformed YAML: \(error)")
        }
        var resources: [LocatedResource] = []
        for node in documents {
            let root = YAMLField(node: node, path: "", file: file)
            if root.isNull { continue }
            if let resource = try decode(root) {
                resources.append(LocatedResource(resource: resource, file: file, line: root.line))
            }
        }
        return resources
    }

    /// One document; nil when it is a kind Ferry does not use.
    public static func decode(_ root: YAMLField) throws -> Resource? {
        let document = try root.fields()
        guard let apiVersion = try document.string("apiVersion") else { throw root.error("apiVersion is required") }
        guard let kind = try document.string("kind") else { throw root.error("kind is required") }
        let group = apiVersion.contains("/") ? String(apiVersion.split(separator: "/")[0]) : ""
        let strict = strictGroups.contains(group) || strictGroups.contains(where: { group.hasSuffix("." + $0) })

        func requireVersion(_ accepted: Set<String>) throws {
            guard accepted.contains(apiVersion) else {
                throw root.error("\(kind) has apiVersion '\(apiVersion)'; expected \(accepted.sorted().joined(separator: " or "))")
            }
        }

        switch kind {
        case "MeshConfig":
            try requireVersion(MeshConfig.apiVersions)
            let meta = try ObjectMeta(document["metadata"], in: root, namespaced: false)
            return .meshConfig(name: meta.name, try MeshConfig(spec: document["spec"], document: root))
        case "Node" where group.isEmpty:
            try requireVersion(["v1"])
            return .node(try MeshNode(document: document, root: root))
        case "Namespace" where group.isEmpty:
            try requireVersion(["v1"])
            let meta = try ObjectMeta(document["metadata"], in: root, namespaced: false)
            return .namespace(MeshNamespace(name: meta.name, labels: meta.labels))
        case "Pod" where group.isEmpty:
            try requireVersion(["v1"])
            return .workload(try Workload(pod: document, root: root))
        case "Service" where group.isEmpty:
            try requireVersion(["v1"])
            return .service(try MeshService(document: document, root: root))
        case "EndpointSlice" where group == "discovery.k8s.io":
            try requireVersion(EndpointSlice.apiVersions)
            return .endpointSlice(try EndpointSlice(document: document, root: root))
        case "WorkloadEntry":
            try requireVersion(Workload.workloadEntryAPIVersions)
            return .workload(try Workload(workloadEntry: document, root: root))
        // Claimed in the mesh groups only, so a wrong Istio group gets the version
        // message while another vendor's kind of the same name is skipped.
        case "AuthorizationPolicy" where strict:
            try requireVersion(AuthorizationPolicy.apiVersions)
            return .authorizationPolicy(try AuthorizationPolicy(document: document, root: root))
        case "PeerAuthentication" where strict:
            try requireVersion(PeerAuthentication.apiVersions)
            return .peerAuthentication(try PeerAuthentication(document: document, root: root))
        case "HTTPRoute" where strict:
            try requireVersion(HTTPRoute.apiVersions)
            return .httpRoute(try HTTPRoute(document: document, root: root))
        case "GRPCRoute" where strict:
            try requireVersion(GRPCRoute.apiVersions)
            return .grpcRoute(try GRPCRoute(document: document, root: root))
        case _ where group == "gateway.networking.k8s.io" && UnsupportedRoute.kinds.contains(kind):
            return .unsupportedRoute(try UnsupportedRoute(kind: kind, document: document, root: root))
        // GAMMA routes reach backends in any namespace without one (GEP-1294),
        // so a ReferenceGrant grants nothing Ferry would refuse: read past it.
        case "ReferenceGrant" where group == "gateway.networking.k8s.io":
            return nil
        case "DestinationRule" where strict:
            try requireVersion(DestinationRule.apiVersions)
            return .destinationRule(try DestinationRule(document: document, root: root))
        case "VirtualService" where strict:
            try requireVersion(VirtualServiceFaults.apiVersions)
            return .virtualService(try VirtualServiceFaults(document: document, root: root))
        case "RateLimit" where strict:
            try requireVersion(RateLimit.apiVersions)
            return .rateLimit(try RateLimit(document: document, root: root))
        default:
            if strict {
                throw root.error("kind '\(kind)' of \(apiVersion) is not supported by Ferry")
            }
            return nil
        }
    }

    static func line(of error: YamlError) -> Int {
        switch error {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _):
            return mark.line
        default:
            return 0
        }
    }

    static func problem(of error: YamlError) -> String {
        switch error {
        case .scanner(let context, let problem, _, _), .parser(let context, let problem, _, _),
             .composer(let context, let problem, _, _):
            if let context { return "\(problem) (\(context.text))" }
            return problem
        default:
            return "\(error)"
        }
    }
}
