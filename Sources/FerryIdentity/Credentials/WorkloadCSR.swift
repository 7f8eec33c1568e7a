import Crypto
import FerryMesh
import X509

/// A fresh key and a CSR asking for exactly one URI SAN, the identity. The key is
/// made here, on the node, and never leaves it; only the CSR travels.
public struct WorkloadCSR: Sendable {
    public let identity: SpiffeID
    public let privateKey: P256.Signing.PrivateKey
    public let pem: String

    public init(identity: SpiffeID) throws {
        let key = P256.Signing.PrivateKey()
        let requested = try Certificate.Extensions {
            SubjectAlternativeNames([.uniformResourceIdentifier(identity.uri)])
        }
        let csr = try CertificateSigningRequest(
            version: .v1,
            subject: DistinguishedName { OrganizationName(identity.trustDomain) },
            privateKey: Certificate.PrivateKey(key),
            attributes: CertificateSigningRequest.Attributes([
                .init(ExtensionRequest(extensions: requested)),
            ])
        )
        self.identity = identity
        self.privateKey = key
        self.pem = try csr.serializeAsPEM().pemString
    }
}
