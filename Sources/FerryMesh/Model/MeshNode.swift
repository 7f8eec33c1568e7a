/// A node of the mesh (`kind: Node`, v1): its name and the address its agent
/// listens on for HBONE (the first InternalIP).
public struct MeshNode: Hashable, Sendable, Codable {
    public var name: String
    public var addresses: [IPAddress]
    public var labels: [String: String]

    public init(name: String, addresses: [IPAddress], labels: [String: String] = [:]) {
        self.name = name
        self.addresses = addresses
        self.labels = labels
    }

    /// The address agents dial: the first InternalIP.
    public var agentAddress: IPAddress? { addresses.first }

    init(document: [String: YAMLField], root: YAMLField) throws {
        let meta = try ObjectMeta(document["metadata"], in: root, namespaced: false)
        name = meta.name
        labels = meta.labels
        let status = try document.fields("status")
        var internalIPs: [IPAddress] = []
        for entry in try status.list("addresses") {
            let fields = try entry.fields()
            guard try fields.string("type") == "InternalIP", let text = try fields.string("address") else { continue }
            guard let address = IPAddress(text) else {
                throw entry.error("\(entry.path).address '\(text)' is not an IP address")
            }
            internalIPs.append(address)
        }
        addresses = internalIPs
    }
}

/// A namespace (`kind: Namespace`, v1); its labels can enroll every pod in it.
public struct MeshNamespace: Hashable, Sendable, Codable {
    public var name: String
    public var labels: [String: String]

    public init(name: String, labels: [String: String]) {
        self.name = name
        self.labels = labels
    }
}
