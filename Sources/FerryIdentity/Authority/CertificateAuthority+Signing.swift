import Crypto
import FerryMesh
import X509

extension CertificateAuthority {
    /// Signs a workload certificate for `identity` from a PEM CSR; returns the leaf,
    /// then the root. Who may get which identity is decided before this, by
    /// `SigningPolicy`.
    public func signWorkload(csrPEM: String, identity: SpiffeID, ttl: Duration) throws -> [Certificate] {
        try sign(csrPEM: csrPEM, name: .workload(identity), ttl: ttl)
    }

    /// Signs a node credential for `node` from a PEM CSR (agents that authenticate
    /// with a service account token have no credential on disk); returns the leaf,
    /// then the root. The caller must already be known to be that node's agent.
    public func signNode(csrPEM: String, node: String, ttl: Duration) throws -> [Certificate] {
        guard MeshName.isValidNodeName(node) else { throw IssuanceError.invalidNodeName(node) }
        return try sign(csrPEM: csrPEM, name: .node(trustDomain: trustDomain, name: node), ttl: ttl)
    }

    /// Only the CSR's key is taken from it. The CSR must prove possession of that
    /// key (its signature), and the names it asks for, if any, must be exactly
    /// `name`: a mismatch means the agent and the CA disagree about who this is,
    /// which is worth refusing loudly.
    func sign(csrPEM: String, name: MeshName, ttl: Duration) throws -> [Certificate] {
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
        if let requested, requested != [name.uri] {
            throw IssuanceError.csrNamesMismatch(requested: requested, identity: name.uri)
        }
        let leaf = try issue(publicKey: csr.publicKey, name: name, validity: ttl)
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
