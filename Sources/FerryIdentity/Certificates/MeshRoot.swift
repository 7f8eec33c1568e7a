import Foundation
import SwiftASN1
import X509

/// The mesh root certificate alone, as an agent without a node credential holds
/// it (`--ca-root`, the `ferry-ca-root` ConfigMap): what the CA's serving
/// certificate must chain to, and the trust domain its node credential will be in.
public struct MeshRoot: Sendable, Hashable {
    public let certificate: Certificate
    public let trustDomain: String

    /// The trust domain is the root's subject O, as `ferryctl ca init` writes it.
    public init(certificate: Certificate, origin: String = "the mesh root") throws {
        guard case .isCertificateAuthority = try certificate.extensions.basicConstraints else {
            throw CredentialFileError(path: origin, problem: .invalid("not a CA certificate (no basicConstraints CA:true)"))
        }
        let organizations = certificate.subject.flatMap { $0 }
            .filter { $0.type == .RDNAttributeType.organizationName }
            .compactMap { String($0.value) }
        guard organizations.count == 1, let trustDomain = organizations.first, MeshName.isValidTrustDomain(trustDomain) else {
            throw CredentialFileError(path: origin, problem: .invalid(
                "the root's subject must carry the trust domain as its one O (as `ferryctl ca init` makes it); it has \(organizations)"))
        }
        self.certificate = certificate
        self.trustDomain = trustDomain
    }

    public static func load(path: String) throws -> MeshRoot {
        try MeshRoot(certificate: CredentialFiles.readCertificate(path), origin: path)
    }
}
