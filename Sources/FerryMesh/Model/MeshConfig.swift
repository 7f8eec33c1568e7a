/// Mesh-wide settings (`kind: MeshConfig`, `ferry.dev/v1alpha1`). Every field has
/// a default, so a mesh with no MeshConfig works.
public struct MeshConfig: Hashable, Sendable, Codable {
    public enum FailMode: String, Hashable, Sendable, Codable {
        /// While ferryd is down, captured connections go straight to their destination.
        case open
        /// While ferryd is down, captured connections are refused.
        case closed
    }

    public var trustDomain: String = "cluster.local"
    /// The cluster's name in metrics (`source_cluster`, `destination_cluster`);
    /// Istio's default cluster ID.
    public var clusterName: String = "Kubernetes"
    /// Where mesh-wide AuthorizationPolicy and PeerAuthentication live (Istio's default).
    public var rootNamespace: String = "istio-system"
    /// Destinations whose connections are captured. Default: everything except
    /// loopback, which is never captured.
    public var captureCIDRs: [CIDR] = [CIDR("0.0.0.0/0")!, CIDR("::/0")!]
    /// Destinations inside the capture set that are left alone.
    public var excludeCIDRs: [CIDR] = []
    /// Destination ports that are never captured (SSH, say).
    public var excludePorts: [Int] = []
    /// When unset: open under PERMISSIVE, closed under STRICT mesh-wide mTLS.
    public var failMode: FailMode?
    public var logLevel: String = "info"
    public var workloadCertificateTTL: Duration = .seconds(24 * 3600)
    /// One JSON line per connection and request on stdout.
    public var accessLog: Bool = true
    /// OTLP span export for HTTP requests; nil: none.
    public var tracing: TracingSettings?

    public init() {}

    static let apiVersions: Set<String> = ["ferry.dev/v1alpha1"]
    static let specFields: Set<String> = [
        "trustDomain", "clusterName", "rootNamespace", "captureCIDRs", "excludeCIDRs", "excludePorts",
        "failMode", "logLevel", "workloadCertificateTTL", "accessLog", "tracing",
    ]
    static let logLevels: Set<String> = ["trace", "debug", "info", "notice", "warning", "error", "critical"]

    init(spec field: YAMLField?, document: YAMLField) throws {
        guard let field else { return }
        let spec = try field.fields(allowing: Self.specFields)
        if let value = try spec.string("trustDomain") {
            guard !value.isEmpty, !value.contains("/"), !value.contains(":") else {
                throw spec["trustDomain"]!.error("spec.trustDomain '\(value)' is not a valid trust domain")
            }
            trustDomain = value
        }
        if let value = try spec.string("clusterName") {
            guard !value.isEmpty else { throw spec["clusterName"]!.error("spec.clusterName must not be empty") }
            clusterName = value
        }
        rootNamespace = try spec.string("rootNamespace") ?? rootNamespace
        if spec["captureCIDRs"] != nil { captureCIDRs = try Self.cidrs(spec["captureCIDRs"]!) }
        if spec["excludeCIDRs"] != nil { excludeCIDRs = try Self.cidrs(spec["excludeCIDRs"]!) }
        excludePorts = try spec.list("excludePorts").map { try $0.port() }
        if let mode = try spec.string("failMode") {
            guard let parsed = FailMode(rawValue: mode) else {
                throw spec["failMode"]!.error("spec.failMode must be 'open' or 'closed', not '\(mode)'")
            }
            failMode = parsed
        }
        if let level = try spec.string("logLevel") {
            guard Self.logLevels.contains(level) else {
                throw spec["logLevel"]!.error("spec.logLevel '\(level)' is not one of \(Self.logLevels.sorted().joined(separator: ", "))")
            }
            logLevel = level
        }
        if let ttl = try spec.string("workloadCertificateTTL") {
            guard let duration = GoDuration.parse(ttl), duration >= .seconds(2) else {
                throw spec["workloadCertificateTTL"]!.error("spec.workloadCertificateTTL '\(ttl)' is not a duration of at least 2s")
            }
            workloadCertificateTTL = duration
        }
        accessLog = try spec.bool("accessLog") ?? accessLog
        if let field = spec["tracing"], !field.isNull { tracing = try TracingSettings(field) }
    }

    static func cidrs(_ field: YAMLField) throws -> [CIDR] {
        try field.list().map { item in
            let text = try item.string()
            guard let cidr = CIDR(text) else { throw item.error("\(item.path): '\(text)' is not a CIDR") }
            return cidr
        }
    }
}
