import FerryMesh
import Foundation

/// Who a verified peer is: a workload (what policy sees) or a node agent.
public enum PeerIdentity: Hashable, Sendable, CustomStringConvertible {
    case workload(SpiffeID)
    case node(String)

    public var description: String {
        switch self {
        case .workload(let id): id.uri
        case .node(let name): "node \(name)"
        }
    }
}

/// What a peer verification concluded.
public enum PeerVerification: Hashable, Sendable {
    case valid(PeerIdentity)
    case refused(PeerRefusal)
}

/// Why a peer's certificate was not accepted, with the value that was wrong.
public enum PeerRefusal: Error, Hashable, Sendable, CustomStringConvertible {
    case noCertificate
    case expired(notAfter: Date)
    case notYetValid(notBefore: Date)
    /// Not signed by the mesh root (another CA, or self-signed).
    case untrustedIssuer(issuer: String)
    case wrongTrustDomain(presented: String, expected: String)
    /// No single `spiffe://` URI SAN.
    case notASpiffeID(uris: [String])
    /// A SPIFFE id of this trust domain that is neither a workload nor a node.
    case unrecognizedIdentity(uri: String)
    /// Valid, but not the peer this connection was meant to reach.
    case unexpectedIdentity(presented: String, expected: String)
    case other(String)

    /// A stable name for counting and metric labels.
    public var reason: String {
        switch self {
        case .noCertificate: "noCertificate"
        case .expired: "expired"
        case .notYetValid: "notYetValid"
        case .untrustedIssuer: "untrustedIssuer"
        case .wrongTrustDomain: "wrongTrustDomain"
        case .notASpiffeID: "notASpiffeID"
        case .unrecognizedIdentity: "unrecognizedIdentity"
        case .unexpectedIdentity: "unexpectedIdentity"
        case .other: "other"
        }
    }

    public var description: String {
        switch self {
        case .noCertificate: "the peer presented no certificate"
        case .expired(let notAfter): "the peer's certificate expired at \(notAfter.ISO8601Format())"
        case .notYetValid(let notBefore): "the peer's certificate is not valid before \(notBefore.ISO8601Format())"
        case .untrustedIssuer(let issuer): "the peer's certificate (issuer \(issuer)) does not chain to the mesh root"
        case .wrongTrustDomain(let presented, let expected):
            "the peer's identity is in trust domain \(presented), not \(expected)"
        case .notASpiffeID(let uris):
            "the peer's certificate has \(uris.isEmpty ? "no URI SAN" : "URI SANs \(uris.joined(separator: ", "))"); expected exactly one spiffe:// URI"
        case .unrecognizedIdentity(let uri): "\(uri) is neither a workload nor a node identity"
        case .unexpectedIdentity(let presented, let expected): "the peer is \(presented), expected \(expected)"
        case .other(let text): text
        }
    }
}
