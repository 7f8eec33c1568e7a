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

    public var name: String? { didSet { classify() } }
    public var port: Int
    public var targetPort: Target
    public var appProtocol: String? { didSet { classify() } }
    /// Whether Ferry handles the port at L7 (appProtocol, or the port name as
    /// Istio reads it), and whether its upstream speaks HTTP/2 (h2c, gRPC).
    /// Worked out once: the L7 path asks per request.
    public private(set) var isHTTP = false
    public private(set) var isHTTP2 = false

    public init(name: String? = nil, port: Int, targetPort: Target? = nil, appProtocol: String? = nil) {
        self.name = name
        self.port = port
        self.targetPort = targetPort ?? .number(port)
        self.appProtocol = appProtocol
        classify()
    }

    private enum CodingKeys: String, CodingKey { case name, port, targetPort, appProtocol }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(name: try container.decodeIfPresent(String.self, forKey: .name),
                  port: try container.decode(Int.self, forKey: .port),
                  targetPort: try container.decode(Target.self, forKey: .targetPort),
                  appProtocol: try container.decodeIfPresent(String.self, forKey: .appProtocol))
    }

    private mutating func classify() {
        let declared = declaredProtocol
        isHTTP = declared.map(Self.httpProtocols.contains) ?? false
        isHTTP2 = declared.map(Self.http2Protocols.contains) ?? false
    }

    /// The protocol the port declares, read as Istio reads it: `appProtocol`
    /// when set (it replaces the name, it is not a fallback), else the port
    /// name; either way the part before the first '-' ("http-web" → "http"),
    /// except that "grpc-web" keeps its hyphen. Lower-cased; nil when neither
    /// is written.
    public var declaredProtocol: String? {
        guard let text = (appProtocol ?? name)?.lowercased(), !text.isEmpty else { return nil }
        if text.hasPrefix("grpc-web") { return "grpc-web" }
        if text.hasPrefix("kubernetes.io/") { return text }
        return String(text.prefix { $0 != "-" })
    }

    /// Protocols whose requests Ferry handles at L7. `kubernetes.io/ws` is
    /// WebSocket, which starts as HTTP/1.1; `h2c` is accepted as a plain name
    /// for `kubernetes.io/h2c`.
    static let httpProtocols: Set<String> = ["http", "http2", "grpc", "grpc-web", "h2c", "kubernetes.io/h2c", "kubernetes.io/ws"]
    /// HTTP protocols that need HTTP/2 upstream (cleartext, prior knowledge).
    /// gRPC-Web is not among them: it is defined over HTTP/1.1 as well, and a
    /// gRPC-Web server need not accept h2c.
    static let http2Protocols: Set<String> = ["http2", "grpc", "h2c", "kubernetes.io/h2c"]


    /// The workload port this service port sends to.
    public func targetPort(on workload: Workload) -> Int? {
        switch targetPort {
        case .number(let number): return number
        case .name(let name): return workload.ports[name]
        }
    }

    init(_ field: YAMLField) throws {
        let fields = try field.fields()
        guard let port = try fields.port("port") else {
            throw field.error("\(field.path).port must be a port number")
        }
        var target: Target = .number(port)
        if let targetField = fields["targetPort"] {
            let text = try targetField.string()
            target = Int(text) == nil ? .name(text) : .number(try targetField.port())
        }
        let proto = try fields.string("protocol") ?? "TCP"
        guard proto == "TCP" || proto == "UDP" || proto == "SCTP" else {
            throw field.error("\(field.path).protocol '\(proto)' is not TCP, UDP or SCTP")
        }
        self.init(name: try fields.string("name"), port: port, targetPort: target, appProtocol: try fields.string("appProtocol"))
    }
}
