import FerryMesh

/// One kind the Kubernetes source lists and watches: where it is served, how
/// the collection is narrowed, and how an object becomes a resource.
public struct KubernetesKind: Sendable {
    public var resource: APIResource
    public var selectors: KubernetesClient.Selectors
    /// Whether FerryMesh can decode this kind yet; the source skips kinds it cannot.
    public var isDecodable: Bool
    /// The resource an object stands for; nil when it does not count (a finished
    /// pod, a ConfigMap without the key). Throws when the object is bad.
    public var convert: @Sendable (APIObject) throws -> Resource?

    public init(resource: APIResource, selectors: KubernetesClient.Selectors = .init(), isDecodable: Bool = true,
                convert: @escaping @Sendable (APIObject) throws -> Resource?) {
        self.resource = resource
        self.selectors = selectors
        self.isDecodable = isDecodable
        self.convert = convert
    }

    public var name: String { resource.kind }

    /// A kind FerryMesh's `ResourceDecoder` reads, exactly as the file source reads it.
    public static func decoded(_ kind: String, _ apiVersion: String, _ plural: String,
                               selectors: KubernetesClient.Selectors = .init(),
                               skip: (@Sendable (APIObject) -> Bool)? = nil) -> KubernetesKind {
        KubernetesKind(resource: APIResource(kind: kind, apiVersion: apiVersion, plural: plural), selectors: selectors,
                       isDecodable: ResourceDecoder.decodedKinds.contains(kind)) { object in
            if let skip, skip(object) { return nil }
            return try ResourceDecoder.decode(object.field(origin: "\(kind) \(object.key)"))
        }
    }

    /// What a node agent watches. One line per kind: kinds FerryMesh cannot decode
    /// yet stay listed and are skipped until it can. `node` nil watches the pods
    /// of every node.
    public static func meshKinds(node: String?, meshConfigNamespace: String) -> [KubernetesKind] {
        [
            .decoded("Node", "v1", "nodes"),
            .decoded("Namespace", "v1", "namespaces"),
            pods(node: node),
            .decoded("Service", "v1", "services"),
            .decoded("EndpointSlice", "discovery.k8s.io/v1", "endpointslices"),
            .decoded("WorkloadEntry", "networking.istio.io/v1", "workloadentries"),
            .decoded("AuthorizationPolicy", "security.istio.io/v1", "authorizationpolicies"),
            .decoded("PeerAuthentication", "security.istio.io/v1", "peerauthentications"),
            .decoded("HTTPRoute", "gateway.networking.k8s.io/v1", "httproutes"),
            .decoded("GRPCRoute", "gateway.networking.k8s.io/v1", "grpcroutes"),
            .decoded("DestinationRule", "networking.istio.io/v1", "destinationrules"),
            .decoded("VirtualService", "networking.istio.io/v1", "virtualservices"),
            .decoded("RateLimit", "ferry.dev/v1alpha1", "ratelimits"),
            .meshConfigMap(namespace: meshConfigNamespace),
        ]
    }

    /// What the CA watches: which workloads run on which node (every node's pods,
    /// with their namespaces' mesh label, and WorkloadEntries), and the MeshConfig
    /// for the trust domain and certificate lifetime. No policy or traffic kinds:
    /// the CA signs, it does not route, and its RBAC (Deploy/ca-rbac.yaml) reads
    /// exactly these. A kind it may not list would keep it from ever serving.
    public static func caKinds(meshConfigNamespace: String) -> [KubernetesKind] {
        [
            .decoded("Node", "v1", "nodes"),
            .decoded("Namespace", "v1", "namespaces"),
            pods(node: nil),
            .decoded("WorkloadEntry", "networking.istio.io/v1", "workloadentries"),
            .meshConfigMap(namespace: meshConfigNamespace),
        ]
    }

    /// Running pods, of one node or of all.
    static func pods(node: String?) -> KubernetesKind {
        .decoded("Pod", "v1", "pods", selectors: .init(fieldSelector: node.map { "spec.nodeName=\($0)" }), skip: isFinishedPod)
    }

    /// A pod that has finished keeps its object but not its address: the IP may
    /// already belong to a new pod, so it is no workload.
    @Sendable static func isFinishedPod(_ object: APIObject) -> Bool {
        let phase = WireJSON.string(WireJSON.child(object.node, "status"), "phase")
        return phase == "Succeeded" || phase == "Failed"
    }
}
