/// Istio's mutual TLS modes (`PeerAuthentication.spec.mtls.mode`).
public enum MTLSMode: String, Hashable, Sendable, Codable, CaseIterable {
    /// Inherit from the enclosing scope (workload → namespace → mesh → PERMISSIVE).
    case unset = "UNSET"
    /// Plaintext only.
    case disable = "DISABLE"
    /// mTLS or plaintext.
    case permissive = "PERMISSIVE"
    /// mTLS only.
    case strict = "STRICT"
}

/// An Istio PeerAuthentication (`security.istio.io/v1` or `v1beta1`).
public struct PeerAuthentication: Hashable, Sendable, Codable {
    public var name: String
    public var namespace: String
    /// `selector.matchLabels`; empty makes the policy namespace-wide, or mesh-wide
    /// in the root namespace.
    public var selector: [String: String]
    /// `.unset` when `mtls` (or its mode) is not written.
    public var mode: MTLSMode
    /// `portLevelMtls`: workload port → mode. Only allowed with a selector.
    public var portModes: [Int: MTLSMode]
    /// Istio picks the oldest policy when several share a scope.
    public var creationTimestamp: String?

    public init(name: String, namespace: String, selector: [String: String] = [:], mode: MTLSMode = .unset,
                portModes: [Int: MTLSMode] = [:], creationTimestamp: String? = nil) {
        self.name = name
        self.namespace = namespace
        self.selector = selector
        self.mode = mode
        self.portModes = portModes
        self.creationTimestamp = creationTimestamp
    }

    public var key: String { "\(namespace)/\(name)" }

    static let apiVersions: Set<String> = ["security.istio.io/v1", "security.istio.io/v1beta1"]
    static let specFields: Set<String> = ["selector", "mtls", "portLevelMtls"]

    init(document: [String: YAMLField], root: YAMLField) throws {
        let meta = try ObjectMeta(document["metadata"], in: root)
        let specField = document["spec"] ?? root
        let spec = try document["spec"]?.fields(allowing: Self.specFields) ?? [:]
        let selector = try spec["selector"]?.workloadSelector() ?? [:]
        var portModes: [Int: MTLSMode] = [:]
        if let portsField = spec["portLevelMtls"], !portsField.isNull {
            guard !selector.isEmpty else {
                throw specField.error("spec.portLevelMtls needs a selector: Istio applies port-level mTLS only to selected workloads",
                                      atKey: "portLevelMtls")
            }
            for (text, field) in try portsField.fields() {
                guard let port = Int(text), (1...65535).contains(port) else {
                    throw portsField.error("spec.portLevelMtls: '\(text)' is not a port number (1-65535)", atKey: text)
                }
                portModes[port] = try Self.mode(of: field)
            }
        }
        self.init(
            name: meta.name, namespace: meta.namespace, selector: selector,
            mode: try spec["mtls"].map(Self.mode) ?? .unset, portModes: portModes,
            creationTimestamp: meta.creationTimestamp
        )
    }

    /// `{mode: STRICT}`.
    static func mode(of field: YAMLField) throws -> MTLSMode {
        let fields = try field.fields(allowing: ["mode"])
        guard let text = try fields.string("mode") else { return .unset }
        guard let mode = MTLSMode(rawValue: text) else {
            let known = MTLSMode.allCases.map(\.rawValue).joined(separator: ", ")
            throw field.error("\(field.path).mode '\(text)' is not one of \(known)", atKey: "mode")
        }
        return mode
    }
}
