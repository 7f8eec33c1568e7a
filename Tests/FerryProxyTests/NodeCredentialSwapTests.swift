@testable import FerryProxy
import FerryIdentity
import FerryMesh
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import Testing
import X509

/// A renewed node credential reaches the HBONE server: connections accepted
/// after `replaceNodeCredential` see the new certificate, over real TLS on
/// 127.0.0.1.
@Suite(.timeLimit(.minutes(1))) struct NodeCredentialSwapTests {
    @Test func newConnectionsSeeTheRenewedCredential() async throws {
        let quiet = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
        let authority = try CertificateAuthority.generate(trustDomain: "cluster.local")
        let first = try authority.issueNodeCredential(node: "node-a")
        let renewed = try authority.issueNodeCredential(node: "node-a")
        let identity = SpiffeID(trustDomain: "cluster.local", namespace: "demo", serviceAccount: "client")
        let csr = try WorkloadCSR(identity: identity)
        let workload = try WorkloadCredential(
            identity: identity, chain: authority.signWorkload(csrPEM: csr.pem, identity: identity, ttl: .seconds(600)),
            privateKey: csr.privateKey)

        let store = StateStore()
        let manager = WorkloadCertificateManager(
            source: LocalCertificateSource(authority: authority, node: "node-a", state: { store.state }),
            node: "node-a", updates: store.updates(), logger: quiet)
        let verifier = try PeerVerifier(node: first, logger: quiet)
        let security = try MeshTLSSecurity(node: first, certificates: manager, verifier: verifier)
        let client = try MeshTLS.clientContext(workload: workload, verifier: verifier)

        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let server = try await ServerBootstrap(group: group)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try security.configureServer(channel) }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let port = server.localAddress!.port!

        func presentedSerial() async throws -> Certificate.SerialNumber {
            let channel = try await ClientBootstrap(group: group)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(try client.makeHandler(expectedNode: "node-a"))
                    }
                }
                .connect(host: "127.0.0.1", port: port).get()
            defer { channel.close(promise: nil) }
            let deadline = ContinuousClock.now + .seconds(5)
            while ContinuousClock.now < deadline {
                let peer = try await channel.pipeline.handler(type: NIOSSLClientHandler.self)
                    .map { $0.peerCertificate }.get()
                if let peer { return try Certificate(derEncoded: peer.toDERBytes()).serialNumber }
                try await Task.sleep(for: .milliseconds(20))
            }
            throw TimedOut()
        }

        #expect(try await presentedSerial() == first.certificate.serialNumber)
        try security.replaceNodeCredential(renewed)
        #expect(try await presentedSerial() == renewed.certificate.serialNumber)

        try await server.close()
        try await group.shutdownGracefully()
    }

    struct TimedOut: Error {}
}
