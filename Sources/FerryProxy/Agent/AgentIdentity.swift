import FerryIdentity
import FerryMesh
import Logging
import NIOCore
import ServiceLifecycle

/// The agent's identity side: where workload certificates come from, the
/// manager that keeps them fresh, and the mTLS used by HBONE.
struct AgentIdentity {
    let node: NodeCredential
    let certificates: WorkloadCertificateManager
    let security: MeshTLSSecurity
    /// Renews the node credential from the CA (both remote modes).
    let renewer: NodeCredentialRenewer?

    var services: [any Service] { [certificates] + (renewer.map { [$0] } ?? []) }

    enum SetupError: Error, CustomStringConvertible {
        case wrongNode(directory: String, credentialNode: String, node: String)
        case failed(String)

        var description: String {
            switch self {
            case .wrongNode(let directory, let credentialNode, let node):
                "the credential in \(directory) is for node \(credentialNode), not \(node)"
            case .failed(let text): text
            }
        }
    }

    /// nil when the agent runs without a CA (capture and passthrough only).
    static func make(_ mode: AgentConfiguration.Identity, node: String, store: StateStore, group: EventLoopGroup,
                     logger: Logger) async throws -> AgentIdentity? {
        let credential: NodeCredential
        let source: any CertificateSource
        var renewal: RemoteCertificateSource?
        /// Where a renewed credential is written (file mode), so a restart uses it.
        var credentialDirectory: String?
        switch mode {
        case .none:
            return nil
        case .remote(let address, let directory):
            credential = try NodeCredential.load(directory: directory)
            guard credential.nodeName == node else {
                throw SetupError.wrongNode(directory: directory, credentialNode: credential.nodeName, node: node)
            }
            let remote = try RemoteCertificateSource(address: address, credential: credential, group: group, logger: logger)
            source = remote
            renewal = remote
            credentialDirectory = directory
        case .remoteToken(let address, let rootPath, let token):
            let root = try MeshRoot.load(path: rootPath)
            let remote = try RemoteCertificateSource(address: address, authentication: .bearer(root: root, token: token),
                                                     group: group, logger: logger)
            credential = try await NodeCredentialBootstrap(source: remote, node: node, logger: logger).fetch()
            source = remote
            renewal = remote
        case .embedded(let directory):
            let authority: CertificateAuthority
            if (try? CertificateAuthority.load(directory: directory)) != nil {
                authority = try CertificateAuthority.load(directory: directory)
            } else {
                authority = try CertificateAuthority.initialize(directory: directory, trustDomain: store.state.config.trustDomain)
                logger.notice("created a CA for the embedded mode", metadata: ["ferry.ca": "\(directory)"])
            }
            credential = try authority.issueNodeCredential(node: node)
            source = LocalCertificateSource(authority: authority, node: node, state: { store.state })
        }
        let certificates = WorkloadCertificateManager(source: source, node: node, updates: store.updates(), logger: logger)
        let verifier = try PeerVerifier(node: credential, logger: logger)
        let security = try MeshTLSSecurity(node: credential, certificates: certificates, verifier: verifier)
        // A node credential is renewed from the CA at half-life in both remote
        // modes: with a token (as before), and with the credential itself,
        // which then authenticates the CA requests and is written back.
        let renewer = renewal.map { [credentialDirectory] remote in
            NodeCredentialRenewer(initial: credential, fetch: { try await remote.nodeCredential(for: node) },
                                  install: { renewed in
                                      try security.replaceNodeCredential(renewed)
                                      if let credentialDirectory {
                                          try remote.present(renewed)
                                          try renewed.replace(in: credentialDirectory)
                                      }
                                  }, logger: logger)
        }
        return AgentIdentity(node: credential, certificates: certificates, security: security, renewer: renewer)
    }

    /// The admin API's view of the workload certificates.
    func statuses() -> [AdminAPI.Certificate] {
        certificates.statuses().map {
            AdminAPI.Certificate(identity: $0.identity, serial: $0.serial, notBefore: $0.notBefore ?? .distantPast,
                                 notAfter: $0.notAfter ?? .distantPast, state: $0.state, rotations: $0.rotations)
        }
    }
}
