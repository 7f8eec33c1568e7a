import FerryMesh
import X509

/// Where an agent gets its workloads' certificates: the CA service over mTLS
/// (`RemoteCertificateSource`) or a CA in the same process
/// (`LocalCertificateSource`, for `ferryd --embedded-ca`).
public protocol CertificateSource: Sendable {
    /// Signs the CSR for `identity`; returns the leaf, then the root.
    func sign(csrPEM: String, identity: SpiffeID) async throws -> [Certificate]
}

/// The CA in process. It applies the same `SigningPolicy` as the CA service, so
/// an embedded CA hands out nothing a remote one would refuse.
public struct LocalCertificateSource: CertificateSource {
    public let authority: CertificateAuthority
    public let node: String
    private let state: @Sendable () -> MeshState

    public init(authority: CertificateAuthority, node: String, state: @escaping @Sendable () -> MeshState) {
        self.authority = authority
        self.node = node
        self.state = state
    }

    public func sign(csrPEM: String, identity: SpiffeID) async throws -> [Certificate] {
        let state = state()
        if case .refuse(let reason) = SigningPolicy.decide(node: node, identity: identity, state: state) {
            throw SigningRefused(authority: "the embedded CA", reason: reason)
        }
        return try authority.signWorkload(csrPEM: csrPEM, identity: identity, ttl: state.config.workloadCertificateTTL)
    }
}

/// The CA (local or remote) refused to sign, with its reason.
public struct SigningRefused: Error, Hashable, Sendable, CustomStringConvertible {
    /// Which CA: "the embedded CA", "the CA at 10.0.0.1:15012".
    public var authority: String
    public var reason: String

    public init(authority: String, reason: String) {
        self.authority = authority
        self.reason = reason
    }

    public var description: String { "\(authority) refused: \(reason)" }
}
