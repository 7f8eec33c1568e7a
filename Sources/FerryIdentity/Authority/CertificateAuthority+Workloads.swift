import Crypto
import FerryMesh
import X509

extension CertificateAuthority {
    /// Signs a workload certificate for `identity` from a PEM CSR; returns the leaf,
    /// then the root.
    ///
    /// Only the CSR's key is taken from it. The CSR must prove possession of that
    /// key (its signature), and the names it asks for, if any, must be exactly the
    /// identity: a mismatch means the agent and the CA disagree about who this is,
    /// which is worth refusing loudly. Who may get which identity is decided
    /// before this, by `SigningPolicy`.
    public func signWorkload(csrPEM: String, identity: SpiffeID, ttl: Duration) throws -> [Certificate] {
        let csr: CertificateSigningRequest
        do {
            csr = try CertificateSigningRequest(pemEncoded: csrPEM)
        } catch {
            throw IssuanceError.malformedCSR(reason: "\(error)")
        }
        guard P256.Signing.PublicKey(csr.publicKey) != nil else {
            throw IssuanceError.unsupportedKey(algorithm: "\(csr.signatureAlgorithm)")
        }
        guard csr.publicKey.isValidSignature(csr.signature, for: csr) else { throw IssuanceError.badCSRSignature }
        let requested = try Self.requestedNames(csr)
        if let requested, requested != [identity.uri] {
            throw IssuanceError.csrNamesMismatch(requested: requested, identity: identity.uri)
        }
        let leaf = try issue(publicKey: csr.publicKey, name: .workload(identity), validity: ttl)
        return [leaf, root]
    }

    /// Every name in the CSR's requested SAN extension, URIs as they are and other
    /// kinds described; nil when the CSR requests no SAN.
    static func requestedNames(_ csr: CertificateSigningRequest) throws -> [String]? {
        let names: SubjectAlternativeNames?
        do {
            names = try csr.attributes.extensionRequest?.extensions.subjectAlternativeNames
        } catch {
            throw IssuanceError.malformedCSR(reason: "unreadable extension request: \(error)")
        }
        return names.map { names in
            names.map { name in
                if case .uniformResourceIdentifier(let uri) = name { return uri }
                return "\(name)"
            }
        }
    }
}
