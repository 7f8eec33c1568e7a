/// One workload of the mesh, whichever resource described it: a Kubernetes Pod,
/// an Istio WorkloadEntry (a VM, bare-metal host or a process in a cgroup), or an
/// EndpointSlice endpoint whose pod is not known here.
public struct Workload: Hashable, Sendable, Codable {
    public enum Source: String, Hashable, Sendable, Codable {
        case workloadEntry = "WorkloadEntry"
        case pod = "Pod"
        /// Derived by `MeshState` from an EndpointSlice: a pod on another node,
        /// known only by address, node and name. Its labels and service account
        /// are not known, so it has no identity (`knownIdentity` is nil) and
        /// selectors never pick it; it is reached as an endpoint of its Service.
        case endpointSlice = "EndpointSlice"
    }

    public var source: Source
    public var name: String
    public var namespace: String
    public var labels: [String: String]
    public var addresses: [IPAddress]
    /// Empty when unknown (EndpointSlice workloads).
    public var serviceAccount: String
    /// The node whose agent serves this workload (`ferry.dev/node`, or the pod's nodeName).
    public var node: String?
    /// The workload's cgroup, relative to the cgroup2 mount (`ferry.dev/cgroup`).
    public var cgroup: String?
    /// The workload's own network namespace (`ferry.dev/netns`: a path such as
    /// /run/netns/NAME or /proc/PID/ns/net), when it is not the node's: ferryd
    /// then opens its capture listener inside it.
    public var netns: String?
    /// Named ports ("http" → 8080) for Service targetPort names.
    public var ports: [String: Int]
    /// Pod UID, used to find the pod's cgroup on a Kubernetes node.
    public var uid: String?
    /// Pods opt in with `ferry.dev/mesh=enabled` on the pod or its namespace;
    /// WorkloadEntries are meshed by being written.
    public var meshEnabled: Bool

    public init(source: Source = .workloadEntry, name: String, namespace: String = "default",
                labels: [String: String] = [:], addresses: [IPAddress], serviceAccount: String = "default",
                node: String? = nil, cgroup: String? = nil, ports: [String: Int] = [:], uid: String? = nil,
                meshEnabled: Bool = true) {
        self.source = source
        self.name = name
        self.namespace = namespace
        self.labels = labels
        self.addresses = addresses
        self.serviceAccount = serviceAccount
        self.node = node
        self.cgroup = cgroup
        self.ports = ports
        self.uid = uid
        self.meshEnabled = meshEnabled
    }

    /// "namespace/name": unique within the mesh.
    public var key: String { "\(namespace)/\(name)" }

    /// The SPIFFE identity this workload's certificate carries.
    public func identity(trustDomain: String) -> SpiffeID {
        SpiffeID(trustDomain: trustDomain, namespace: namespace, serviceAccount: serviceAccount)
    }

    /// The identity, when the service account is known (not for EndpointSlice workloads).
    public func knownIdentity(trustDomain: String) -> SpiffeID? {
        serviceAccount.isEmpty ? nil : identity(trustDomain: trustDomain)
    }

    /// The workload name Istio's metrics use: the `app` label, else the name.
    public var canonicalName: String { labels["app.kubernetes.io/name"] ?? labels["app"] ?? name }

    /// Istio's canonical service (`*_canonical_service`, what Kiali draws as
    /// an app): the label istiod reads first, then the recommended and the
    /// `app` labels, else the workload's name.
    public var canonicalService: String {
        labels["service.istio.io/canonical-name"] ?? labels["app.kubernetes.io/name"] ?? labels["app"] ?? name
    }

    /// Istio's canonical revision (`*_canonical_revision`), "latest" without one.
    public var canonicalRevision: String {
        labels["service.istio.io/canonical-revision"] ?? labels["app.kubernetes.io/version"] ?? labels["version"] ?? "latest"
    }

    public static let nodeAnnotation = "ferry.dev/node"
    public static let cgroupAnnotation = "ferry.dev/cgroup"
    public static let netnsAnnotation = "ferry.dev/netns"
    public static let meshLabel = "ferry.dev/mesh"

    static let workloadEntryAPIVersions: Set<String> = [
        "networking.istio.io/v1", "networking.istio.io/v1beta1", "networking.istio.io/v1alpha3",
    ]
    static let workloadEntrySpecFields: Set<String> = [
        "address", "ports", "labels", "network", "locality", "weight", "serviceAccount",
    ]

    /// From an Istio WorkloadEntry.
    init(workloadEntry document: [String: YAMLField], root: YAMLField) throws {
        let meta = try ObjectMeta(document["metadata"], in: root)
        guard let specField = document["spec"] else { throw root.error("WorkloadEntry \(meta.name): spec is required") }
        let spec = try specField.fields(allowing: Self.workloadEntrySpecFields)
        let addressText = try spec.requiredString("address", in: specField)
        guard let address = IPAddress(addressText) else {
            throw spec["address"]!.error("spec.address '\(addressText)' is not an IP address")
        }
        var ports: [String: Int] = [:]
        for (name, field) in try spec.fields("ports") {
            ports[name] = try field.port()
        }
        var labels = meta.labels
        labels.merge(try spec.stringMap("labels")) { _, spec in spec }
        let cgroup = meta.annotations[Self.cgroupAnnotation]
        if let cgroup, !cgroup.hasPrefix("/") {
            throw root.error("annotation \(Self.cgroupAnnotation) '\(cgroup)' must be a path starting with '/' (relative to the cgroup2 mount)")
        }
        self.init(
            source: .workloadEntry, name: meta.name, namespace: meta.namespace, labels: labels,
            addresses: [address], serviceAccount: try spec.string("serviceAccount") ?? "default",
            node: meta.annotations[Self.nodeAnnotation], cgroup: cgroup, ports: ports, uid: meta.uid,
            meshEnabled: true
        )
        netns = meta.annotations[Self.netnsAnnotation]
    }

    /// From a Kubernetes Pod; only the fields Ferry needs are read.
    init(pod document: [String: YAMLField], root: YAMLField) throws {
        let meta = try ObjectMeta(document["metadata"], in: root)
        let spec = try document.fields("spec")
        let status = try document.fields("status")
        var addresses: [IPAddress] = []
        for entry in try status.list("podIPs") {
            if let text = try entry.fields().string("ip"), let ip = IPAddress(text) { addresses.append(ip) }
        }
        if addresses.isEmpty, let text = try status.string("podIP"), let ip = IPAddress(text) {
            addresses.append(ip)
        }
        var ports: [String: Int] = [:]
        for container in try spec.list("containers") {
            for port in try container.fields().list("ports") {
                let fields = try port.fields()
                if let name = try fields.string("name"), let number = try fields.port("containerPort") {
                    ports[name] = number
                }
            }
        }
        self.init(
            source: .pod, name: meta.name, namespace: meta.namespace, labels: meta.labels,
            addresses: addresses,
            serviceAccount: try spec.string("serviceAccountName") ?? "default",
            node: try spec.string("nodeName"), cgroup: meta.annotations[Self.cgroupAnnotation],
            ports: ports, uid: meta.uid,
            meshEnabled: meta.labels[Self.meshLabel] == "enabled"
        )
        netns = meta.annotations[Self.netnsAnnotation]
    }
}

/// A SPIFFE identity: spiffe://<trust domain>/ns/<namespace>/sa/<service account>.
public struct SpiffeID: Hashable, Sendable, Codable, CustomStringConvertible {
    public var trustDomain: String
    public var namespace: String
    public var serviceAccount: String

    public init(trustDomain: String, namespace: String, serviceAccount: String) {
        self.trustDomain = trustDomain
        self.namespace = namespace
        self.serviceAccount = serviceAccount
    }

    /// Parses the Istio form; other SPIFFE paths are not workload identities here.
    public init?(_ uri: String) {
        guard uri.hasPrefix("spiffe://") else { return nil }
        let parts = uri.dropFirst("spiffe://".count).split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 5, parts[1] == "ns", parts[3] == "sa",
              !parts[0].isEmpty, !parts[2].isEmpty, !parts[4].isEmpty else { return nil }
        self.init(trustDomain: String(parts[0]), namespace: String(parts[2]), serviceAccount: String(parts[4]))
    }

    public var uri: String { "spiffe://\(trustDomain)/ns/\(namespace)/sa/\(serviceAccount)" }
    /// The principal form AuthorizationPolicy uses: without the scheme.
    public var principal: String { "\(trustDomain)/ns/\(namespace)/sa/\(serviceAccount)" }
    public var description: String { uri }
}
