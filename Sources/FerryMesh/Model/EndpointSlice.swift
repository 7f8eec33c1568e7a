/// A Kubernetes EndpointSlice (`discovery.k8s.io/v1`): addresses behind a
/// Service, each with the node it runs on. A node agent watches only its own
/// node's Pods, so slices are how it learns where the pods of other nodes are
/// (`MeshState` turns their endpoints into workloads).
public struct EndpointSlice: Hashable, Sendable, Codable {
    public struct Endpoint: Hashable, Sendable, Codable {
        public var addresses: [IPAddress]
        public var nodeName: String?
        /// The object behind the addresses, usually a Pod.
        public var targetRef: TargetReference?
        /// `conditions.ready`; an unwritten condition counts as ready, as the API documents.
        public var ready: Bool

        public init(addresses: [IPAddress], nodeName: String? = nil, targetRef: TargetReference? = nil, ready: Bool = true) {
            self.addresses = addresses
            self.nodeName = nodeName
            self.targetRef = targetRef
            self.ready = ready
        }
    }

    public struct TargetReference: Hashable, Sendable, Codable {
        public var kind: String
        public var namespace: String?
        public var name: String
        public var uid: String?

        public init(kind: String, namespace: String? = nil, name: String, uid: String? = nil) {
            self.kind = kind
            self.namespace = namespace
            self.name = name
            self.uid = uid
        }
    }

    /// A slice port is named after the Service port it serves, and `port` is the
    /// number the endpoints listen on (the resolved targetPort).
    public struct Port: Hashable, Sendable, Codable {
        public var name: String
        public var port: Int?

        public init(name: String = "", port: Int?) {
            self.name = name
            self.port = port
        }
    }

    public var name: String
    public var namespace: String
    /// The `kubernetes.io/service-name` label: which Service the slice belongs to.
    public var serviceName: String?
    public var endpoints: [Endpoint]
    public var ports: [Port]

    public init(name: String, namespace: String = "default", serviceName: String?, endpoints: [Endpoint], ports: [Port]) {
        self.name = name
        self.namespace = namespace
        self.serviceName = serviceName
        self.endpoints = endpoints
        self.ports = ports
    }

    public var key: String { "\(namespace)/\(name)" }

    public static let serviceNameLabel = "kubernetes.io/service-name"
    static let apiVersions: Set<String> = ["discovery.k8s.io/v1"]

    init(document: [String: YAMLField], root: YAMLField) throws {
        let meta = try ObjectMeta(document["metadata"], in: root)
        let addressType = try document.string("addressType") ?? "IPv4"
        var endpoints: [Endpoint] = []
        // FQDN slices name hosts, not addresses: nothing Ferry can capture or dial.
        if addressType != "FQDN" {
            for item in try document.list("endpoints") {
                endpoints.append(try Self.endpoint(item))
            }
        }
        var ports: [Port] = []
        for item in try document.list("ports") {
            let fields = try item.fields()
            ports.append(Port(name: try fields.string("name") ?? "", port: try fields.port("port")))
        }
        self.init(name: meta.name, namespace: meta.namespace, serviceName: meta.labels[Self.serviceNameLabel],
                  endpoints: endpoints, ports: ports)
    }

    static func endpoint(_ item: YAMLField) throws -> Endpoint {
        let fields = try item.fields()
        let addresses = try fields.list("addresses").map { field in
            let text = try field.string()
            guard let ip = IPAddress(text) else { throw field.error("\(field.path) '\(text)' is not an IP address") }
            return ip
        }
        var target: TargetReference?
        if let refField = fields["targetRef"], !refField.isNull {
            let ref = try refField.fields()
            target = TargetReference(kind: try ref.string("kind") ?? "", namespace: try ref.string("namespace"),
                                     name: try ref.requiredString("name", in: refField), uid: try ref.string("uid"))
        }
        let ready = try fields.fields("conditions").bool("ready") ?? true
        return Endpoint(addresses: addresses, nodeName: try fields.string("nodeName"), targetRef: target, ready: ready)
    }
}
