/// A Service (`kind: Service`, v1): virtual IPs and ports in front of the
/// workloads its selector picks.
public struct MeshService: Hashable, Sendable, Codable {
    public var name: String
    public var namespace: String
    public var vips: [IPAddress]
    public var ports: [ServicePort]
    /// nil: no selector (endpoints come from elsewhere, e.g. EndpointSlices).
    public var selector: [String: String]?
    public var labels: [String: String]

    public init(name: String, namespace: String = "default", vips: [IPAddress], ports: [ServicePort],
                selector: [String: String]?, labels: [String: String] = [:]) {
        self.name = name
        self.namespace = namespace
        self.vips = vips
        self.ports = ports
        self.selector = selector
        self.labels = labels
    }

    public var key: String { "\(namespace)/\(name)" }
    /// The name Istio's `destination_service` label uses.
    public func hostname(domain: String = "cluster.local") -> String { "\(name).\(namespace).svc.\(domain)" }

    public func port(_ number: Int) -> ServicePort? { ports.first { $0.port == number } }

    init(document: [String: YAMLField], root: YAMLField) throws {
        let meta = try ObjectMeta(document["metadata"], in: root)
        let spec = try document.fields("spec")
        var vips: [IPAddress] = []
        var texts = try spec.stringList("clusterIPs")
        if texts.isEmpty, let single = try spec.string("clusterIP") { texts = [single] }
        for text in texts where text != "None" && !text.isEmpty {
            guard let ip = IPAddress(text) else { throw (spec["clusterIPs"] ?? spec["clusterIP"]!).error("clusterIP '\(text)' is not an IP address") }
            vips.append(ip)
        }
        let ports = try spec.list("ports").map { try ServicePort($0) }
        self.init(
            name: meta.name, namespace: meta.namespace, vips: vips, ports: ports,
            selector: spec["selector"].map { try? $0.stringMap() } ?? nil, labels: meta.labels
        )
    }
}

public struct ServicePort: Hashable, Sendable, Codable {
    public enum Target: Hashable, Sendable, Codable {
        case number(Int)
        case name(String)
    }

    public var name: String?
    public var port: Int
    public var targetPort: Target
    public var appProtocol: String?

    public init(name: String? = nil, port: Int, targetPort: Target? = nil, appProtocol: String? = nil) {
        self.name = name
        self.port = port
        self.targetPort = targetPort ?? .number(port)
        self.appProtocol = appProtocol
    }

    /// HTTP when appProtocol says so, or the port name does (Istio's convention).
    public var isHTTP: Bool {
        if let appProtocol {
            return ["http", "http2", "grpc", "kubernetes.io/h2c", "h2c", "grpc-web"].contains(appProtocol.lowercased())
        }
        guard let name = name?.lowercased() else { return false }
        return ["http", "http2", "grpc"].contains(name)
            || ["http-", "http2-", "grpc-"].contains(where: { name.hasPrefix($0) })
    }

    /// Whether the upstream speaks HTTP/2 (h2c or gRPC).
    public var isHTTP2: Bool {
        if let appProtocol { return ["http2", "grpc", "kubernetes.io/h2c", "h2c"].contains(appProtocol.lowercased()) }
        guard let name = name?.lowercased() else { return false }
        return name == "http2" || name == "grpc" || name.hasPrefix("http2-") || name.hasPrefix("grpc-")
    }

    /// The workload port this service port sends to.
    public func targetPort(on workload: Workload) -> Int? {
        switch targetPort {
        case .number(let number): return number
        case .name(let name): return workload.ports[name]
        }
    }

    init(_ field: YAMLField) throws {
        let fields = try field.fields()
        guard let port = try fields.int("port"), (1...65535).contains(port) else {
            throw field.error("\(field.path).port must be a port number")
        }
        var target: Target = .number(port)
        if let targetField = fields["targetPort"] {
            let text = try targetField.string()
            target = Int(text).map { .number($0) } ?? .name(text)
        }
        let proto = try fields.string("protocol") ?? "TCP"
        guard proto == "TCP" || proto == "UDP" || proto == "SCTP" else {
            throw field.error("\(field.path).protocol '\(proto)' is not TCP, UDP or SCTP")
        }
        self.init(name: try fields.string("name"), port: port, targetPort: target, appProtocol: try fields.string("appProtocol"))
    }
}
