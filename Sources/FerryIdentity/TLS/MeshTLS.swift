import Foundation
import NIOCore
import NIOSSL
import X509

/// Mutual TLS between mesh parties (HBONE on :15008, and the CA on :15012):
/// TLS 1.3 only, both sides present a certificate chained to the mesh root, and
/// each side checks who the other is with a `PeerVerifier`.
///
/// NIOSSL takes a custom verification callback per handler, not per context, so
/// a context is made once per credential (`serverContext`, `clientContext`:
/// building one is expensive) and each connection gets its handler from it
/// (`makeHandler`). The contexts also carry the mesh root as their only trust
/// root, so a handler made without the callback still refuses strangers.
///
/// After the handshake, `MeshTLS.peerIdentity(of:)` gives the verified peer.
public enum MeshTLS {
    /// HBONE's application protocol.
    public static let defaultApplicationProtocols = ["h2"]

    /// The inbound side: presents the node credential, requires a client
    /// certificate, accepts any verified workload or node.
    public static func serverContext(node: NodeCredential, verifier: PeerVerifier,
                                     applicationProtocols: [String] = defaultApplicationProtocols) throws -> ServerContext {
        var configuration = TLSConfiguration.makeServerConfigurationWithMTLS(
            certificateChain: try node.nioSSLCertificateChain().map { .certificate($0) },
            privateKey: .privateKey(try node.privateKey.nioSSLPrivateKey),
            trustRoots: .certificates([try node.root.nioSSLCertificate])
        )
        restrictToMesh(&configuration, applicationProtocols: applicationProtocols)
        return ServerContext(context: try NIOSSLContext(configuration: configuration), verifier: verifier)
    }

    /// The outbound side for one workload credential: presents it, and accepts
    /// only the node named per connection in `makeHandler(expectedNode:)`.
    public static func clientContext(workload: WorkloadCredential, verifier: PeerVerifier,
                                     applicationProtocols: [String] = defaultApplicationProtocols) throws -> ClientContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.certificateChain = workload.nioSSLCertificateChain.map { .certificate($0) }
        configuration.privateKey = .privateKey(workload.nioSSLPrivateKey)
        configuration.trustRoots = .certificates([try verifier.root.nioSSLCertificate])
        // Peers are named by URI SAN, which the callback checks; there is no host name.
        configuration.certificateVerification = .noHostnameVerification
        restrictToMesh(&configuration, applicationProtocols: applicationProtocols)
        return ClientContext(context: try NIOSSLContext(configuration: configuration), verifier: verifier,
                             identity: workload.identity.uri)
    }

    public struct ServerContext: Sendable {
        public let context: NIOSSLContext
        public let verifier: PeerVerifier

        /// One per accepted connection: the handshake fails unless `verifier`
        /// accepts the client's chain as a workload or a node.
        public func makeHandler() -> NIOSSLServerHandler {
            NIOSSLServerHandler(context: context,
                                customVerificationCallbackWithMetadata: MeshTLS.callback(verifier, expecting: nil))
        }
    }

    public struct ClientContext: Sendable {
        public let context: NIOSSLContext
        public let verifier: PeerVerifier
        /// The workload identity this context presents.
        public let identity: String

        /// One per connection: the handshake fails unless the server is the agent
        /// of `expectedNode` (`spiffe://<td>/ferry/node/<expectedNode>`).
        public func makeHandler(expectedNode: String) throws -> NIOSSLClientHandler {
            try NIOSSLClientHandler(context: context, serverHostname: nil,
                                    customVerificationCallbackWithMetadata: MeshTLS.callback(verifier, expecting: .node(expectedNode)))
        }
    }

    /// The peer a finished handshake verified, read from the chain the verification
    /// callback accepted. Nil before the handshake completes, or when the handler
    /// was made without the callback. Call on the channel's event loop.
    public static func peerIdentity(of handler: NIOSSLHandler) -> PeerIdentity? {
        guard let leaf = handler.peerValidatedCertificateChain?.leaf, let der = try? leaf.toDERBytes() else { return nil }
        return PeerVerifier.identity(fromLeafDER: der)
    }

    /// The same, from any thread, for a channel whose pipeline has the TLS handler.
    public static func peerIdentity(of channel: Channel) -> EventLoopFuture<PeerIdentity?> {
        channel.pipeline.handler(type: NIOSSLHandler.self).map { peerIdentity(of: $0) }
    }

    // MARK: -

    static func restrictToMesh(_ configuration: inout TLSConfiguration, applicationProtocols: [String]) {
        configuration.minimumTLSVersion = .tlsv13
        configuration.maximumTLSVersion = .tlsv13
        configuration.applicationProtocols = applicationProtocols
    }

    /// Verification through `PeerVerifier`, off the event loop (swift-certificates'
    /// verifier is async). The accepted chain is handed back to NIOSSL so the
    /// identity can be read after the handshake.
    static func callback(_ verifier: PeerVerifier, expecting: PeerIdentity?) -> NIOSSLCustomVerificationCallbackWithMetadata {
        { certificates, promise in
            promise.completeWithTask {
                guard case .valid = await verifier.verify(certificates, expecting: expecting),
                      let leaf = certificates.first else { return .failed }
                return .certificateVerified(VerificationMetadata(NIOSSL.ValidatedCertificateChain(verifier.validatedNIOChain(leaf: leaf))))
            }
        }
    }
}
