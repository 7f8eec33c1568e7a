import FerryMesh

/// The SPIFFE names a Ferry certificate can carry as its one URI SAN.
///
/// Workloads are `spiffe://<td>/ns/<ns>/sa/<sa>` (Istio's form). Ferry's own parts
/// live under `/ferry/`, a path that can never parse as a workload identity, so a
/// node credential can never pass for a workload and the other way round.
public enum MeshName: Hashable, Sendable, CustomStringConvertible {
    case workload(SpiffeID)
    /// A node agent: `spiffe://<td>/ferry/node/<name>`.
    case node(trustDomain: String, name: String)
    /// The CA's serving certificate: `spiffe://<td>/ferry/ca`.
    case certificateAuthority(trustDomain: String)

    public var trustDomain: String {
        switch self {
        case .workload(let id): id.trustDomain
        case .node(let trustDomain, _), .certificateAuthority(let trustDomain): trustDomain
        }
    }

    public var uri: String {
        switch self {
        case .workload(let id): id.uri
        case .node(let trustDomain, let name): "spiffe://\(trustDomain)/ferry/node/\(name)"
        case .certificateAuthority(let trustDomain): "spiffe://\(trustDomain)/ferry/ca"
        }
    }

    public var description: String { uri }

    /// Nil when the URI is not one of the three forms.
    public init?(uri: String) {
        guard let spiffe = SpiffeURI(uri) else { return nil }
        if let workload = SpiffeID(uri) {
            self = .workload(workload)
            return
        }
        let segments = spiffe.path.split(separator: "/", omittingEmptySubsequences: false)
        switch segments.count {
        case 2 where segments[0] == "ferry" && segments[1] == "ca":
            self = .certificateAuthority(trustDomain: spiffe.trustDomain)
        case 3 where segments[0] == "ferry" && segments[1] == "node" && MeshName.isValidNodeName(String(segments[2])):
            self = .node(trustDomain: spiffe.trustDomain, name: String(segments[2]))
        default:
            return nil
        }
    }

    /// Node names as Kubernetes allows them (DNS subdomain characters), which also
    /// keeps them safe inside a URI path segment.
    public static func isValidNodeName(_ name: String) -> Bool {
        !name.isEmpty && name.count <= 253 && name.unicodeScalars.allSatisfy { scalar in
            ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar)
                || scalar == "-" || scalar == "." || scalar == "_"
        }
    }

    /// SPIFFE trust domains: lowercase letters, digits, '.', '-' and '_'.
    public static func isValidTrustDomain(_ trustDomain: String) -> Bool {
        !trustDomain.isEmpty && trustDomain.count <= 255 && trustDomain.unicodeScalars.allSatisfy { scalar in
            ("a"..."z").contains(scalar) || ("0"..."9").contains(scalar)
                || scalar == "-" || scalar == "." || scalar == "_"
        }
    }
}

/// Any `spiffe://<trust domain>/<path>` URI, split in two. Used to tell "another
/// trust domain" apart from "not SPIFFE at all".
struct SpiffeURI: Hashable, Sendable {
    var trustDomain: String
    /// Without the leading slash.
    var path: String

    init?(_ uri: String) {
        guard uri.hasPrefix("spiffe://") else { return nil }
        let rest = uri.dropFirst("spiffe://".count)
        guard let slash = rest.firstIndex(of: "/") else { return nil }
        let trustDomain = String(rest[..<slash])
        let path = String(rest[rest.index(after: slash)...])
        guard !trustDomain.isEmpty, !path.isEmpty else { return nil }
        self.trustDomain = trustDomain
        self.path = path
    }
}
