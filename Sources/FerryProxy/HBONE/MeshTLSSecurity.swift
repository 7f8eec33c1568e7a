import FerryIdentity
import FerryMesh
import Logging
import NIOCore
import NIOSSL
import Synchronization

/// HBONE over mutual TLS with SPIFFE certificates: the agent presents its node
/// credential to peers; each outbound connection presents the source workload's
/// certificate and accepts only the destination node's agent.
public final class MeshTLSSecurity: HBONESecurity {
    /// Replaced when a CA-issued node credential is renewed; connections
    /// accepted afterwards present the new one.
    private let server: Mutex<MeshTLS.ServerContext>
    private let certificates: WorkloadCertificateManager
    private let verifier: PeerVerifier
    /// Client contexts by identity, rebuilt when the certificate's serial changes
    /// (building one is expensive; a handler per connection is not).
    private let clients = Mutex<[String: (serial: String, context: MeshTLS.ClientContext)]>([:])
    private let certificateWait: Duration

    public init(node: NodeCredential, certificates: WorkloadCertificateManager, verifier: PeerVerifier,
                certificateWait: Duration = .seconds(10)) throws {
        server = Mutex(try MeshTLS.serverContext(node: node, verifier: verifier))
        self.certificates = certificates
        self.verifier = verifier
        self.certificateWait = certificateWait
    }

    public var authenticatesPeers: Bool { true }

    public func configureServer(_ channel: Channel) throws {
        let context = server.withLock { $0 }
        try channel.pipeline.syncOperations.addHandler(context.makeHandler())
    }

    /// Presents `node` from now on (a renewed credential of the same node and root).
    public func replaceNodeCredential(_ node: NodeCredential) throws {
        let context = try MeshTLS.serverContext(node: node, verifier: verifier)
        server.withLock { $0 = context }
    }

    /// Only workload identities may open tunnels: a node credential is for agents
    /// to identify themselves as servers, never as a source.
    public func peerIdentity(of connection: Channel) -> SpiffeID? {
        guard let handler = try? connection.pipeline.syncOperations.handler(type: NIOSSLServerHandler.self),
              case .workload(let identity) = MeshTLS.peerIdentity(of: handler)
        else { return nil }
        return identity
    }

    public func clientConfigurator(source: SpiffeID, node: String) async throws -> ClientConfigurator {
        let credential: WorkloadCredential
        if let current = certificates.credential(for: source) {
            credential = current
        } else {
            credential = try await certificates.waitForCredential(source, timeout: certificateWait)
        }
        let context = try clientContext(for: credential)
        return ClientConfigurator(generation: credential.serial) { channel in
            try channel.pipeline.syncOperations.addHandler(try context.makeHandler(expectedNode: node))
        }
    }

    private func clientContext(for credential: WorkloadCredential) throws -> MeshTLS.ClientContext {
        let key = credential.identity.uri
        if let cached = clients.withLock({ $0[key] }), cached.serial == credential.serial { return cached.context }
        let context = try MeshTLS.clientContext(workload: credential, verifier: verifier)
        clients.withLock { $0[key] = (credential.serial, context) }
        return context
    }

    public func refusalCounts() -> [String: Int] { verifier.refusalCounts() }

    public func connectionFailed(_ error: Error, peer: String) {
        let text = "\(error)"
        if text.contains("PEER_DID_NOT_RETURN_A_CERTIFICATE") || text.contains("CERTIFICATE_REQUIRED") {
            verifier.recordMissingCertificate(peer: peer)
        }
    }
}
