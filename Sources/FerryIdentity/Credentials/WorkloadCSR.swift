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
        let request = try MeshCSR(name: .workload(identity))
        self.identity = identity
        self.privateKey = request.privateKey
        self.pem = request.pem
    }
}

/// A fresh P-256 key and a PEM CSR whose one requested SAN is a mesh name: a
/// workload identity, or a node for agents whose node credential the CA issues.
public struct MeshCSR: Sendable {
    public let name: MeshName
    public let privateKey: P256.Signing.PrivateKey
    public let pem: String

    public init(name: MeshName) throws {
        let key = P256.Signing.PrivateKey()
        let requested = try Certificate.Extensions {
            SubjectAlternativeNames([.uniformResourceIdentifier(name.uri)])
        }
        let csr = try CertificateSigningRequest(
            version: .v1,
            subject: DistinguishedName { OrganizationName(name.trustDomain) },
            privateKey: Certificate.PrivateKey(key),
            attributes: CertificateSigningRequest.Attributes([
                .init(ExtensionRequest(extensions: requested)),
            ])
        )
        self.name = name
        self.privateKey = key
        self.pem = try csr.serializeAsPEM().pemString
    }
}
