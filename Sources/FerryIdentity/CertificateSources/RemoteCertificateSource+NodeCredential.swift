import Foundation

extension RemoteCertificateSource {
    /// A fresh node credential for `node` from `POST /v1/node-credential`: a new
    /// key made here (it never leaves the node), a CSR for
    /// `spiffe://<td>/ferry/node/<node>`, and the chain the CA answers, checked
    /// to be exactly that credential. For agents that authenticate with a token.
    public func nodeCredential(for node: String) async throws -> NodeCredential {
        let request = try MeshCSR(name: .node(trustDomain: trustDomain, name: node))
        let chain = try await requestChain(CAProtocol.nodeCredentialPath, CAProtocol.NodeCredentialRequest(csr: request.pem))
        guard chain.count == 2 else {
            throw CertificateSourceError.badResponse(address: address, status: 200,
                                                     detail: "expected the node certificate and the root, got \(chain.count) certificates")
        }
        let credential: NodeCredential
        do {
            credential = try NodeCredential(certificate: chain[0], privateKey: request.privateKey, root: chain[1])
        } catch {
            throw CertificateSourceError.badResponse(address: address, status: 200, detail: "\(error)")
        }
        guard credential.nodeName == node, credential.trustDomain == trustDomain else {
            throw CertificateSourceError.badResponse(address: address, status: 200,
                                                     detail: "the CA issued \(credential.uri), not node \(node) in \(trustDomain)")
        }
        return credential
    }
}
