import FerryMesh
import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS
import Testing

@testable import FerryIdentity

/// Real handshakes over 127.0.0.1 between `MeshTLS.serverContext` and
/// `clientContext`. (Not in memory: verification completes its promise from a
/// Swift task, which EmbeddedEventLoop does not allow.)
@Suite(.timeLimit(.minutes(1))) struct MeshTLSTests {
    let authority: CertificateAuthority
    let node: NodeCredential
    let serverVerifier: PeerVerifier
    let clientVerifier: PeerVerifier
    let identity = TestPKI.identity("demo", "web")

    init() throws {
        authority = try CertificateAuthority.generate(trustDomain: TestPKI.trustDomain)
        node = try authority.issueNodeCredential(node: "node-b")
        let quiet = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
        serverVerifier = try PeerVerifier(node: node, logger: quiet)
        clientVerifier = try PeerVerifier(root: authority.root, trustDomain: TestPKI.trustDomain, logger: quiet)
    }

    @Test func workloadAndNodeVerifyEachOther() async throws {
        let workload = try TestPKI.workloadCredential(authority, identity)
        let answer = try await handshake(workload: workload, expectedNode: "node-b")
        // The server read the client's verified identity after the handshake.
        #expect(answer == .success("peer=\(identity.uri)"))
        #expect(serverVerifier.refusalCounts().isEmpty)
        #expect(clientVerifier.refusalCounts().isEmpty)
    }

    @Test func clientFromAnotherCAIsRefusedByTheServer() async throws {
        let stranger = try CertificateAuthority.generate(trustDomain: TestPKI.trustDomain)
        let workload = try TestPKI.workloadCredential(stranger, identity)
        let answer = try await handshake(workload: workload, expectedNode: "node-b")
        #expect(answer != .success("peer=\(identity.uri)"))
        guard case .failure = answer else {
            Issue.record("the handshake should fail, got \(answer)")
            return
        }
        #expect(serverVerifier.refusalCounts() == ["untrustedIssuer": 1])
    }

    @Test func clientRefusesAServerThatIsNotTheExpectedNode() async throws {
        let workload = try TestPKI.workloadCredential(authority, identity)
        let answer = try await handshake(workload: workload, expectedNode: "node-c")
        guard case .failure = answer else {
            Issue.record("the handshake should fail, got \(answer)")
            return
        }
        #expect(clientVerifier.refusalCounts() == ["unexpectedIdentity": 1])
    }

    @Test func contextsAreTLS13Only() throws {
        let server = try MeshTLS.serverContext(node: node, verifier: serverVerifier)
        #expect(server.context.configuration.minimumTLSVersion == .tlsv13)
        #expect(server.context.configuration.maximumTLSVersion == .tlsv13)
        let client = try MeshTLS.clientContext(workload: TestPKI.workloadCredential(authority, identity), verifier: clientVerifier)
        #expect(client.context.configuration.minimumTLSVersion == .tlsv13)
    }

    enum Answer: Equatable {
        case success(String)
        case failure(String)
    }

    /// Runs one connection: the server writes back the identity it verified.
    private func handshake(workload: WorkloadCredential, expectedNode: String) async throws -> Answer {
        try await withEventLoopGroup { group in
            try await handshake(workload: workload, expectedNode: expectedNode, group: group)
        }
    }

    private func handshake(workload: WorkloadCredential, expectedNode: String, group: EventLoopGroup) async throws -> Answer {
        let server = try MeshTLS.serverContext(node: node, verifier: serverVerifier)
        let listener = try await ServerBootstrap(group: group)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(server.makeHandler())
                    try channel.pipeline.syncOperations.addHandler(AnnouncePeer())
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        defer { listener.close(promise: nil) }

        let client = try MeshTLS.clientContext(workload: workload, verifier: clientVerifier)
        let channel = try await ClientBootstrap(group: group)
            .connect(host: "127.0.0.1", port: listener.localAddress!.port!) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(client.makeHandler(expectedNode: expectedNode))
                    return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        do {
            return try await channel.executeThenClose { inbound, _ in
                var text = ""
                for try await buffer in inbound { text += String(buffer: buffer) }
                return text.isEmpty ? .failure("closed without an answer") : .success(text)
            }
        } catch {
            return .failure("\(error)")
        }
    }
}

/// After the handshake, writes "peer=<identity>" and closes.
private final class AnnouncePeer: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case TLSUserEvent.handshakeCompleted = event {
            let handler = try? context.pipeline.syncOperations.handler(type: NIOSSLServerHandler.self)
            let peer = handler.flatMap { MeshTLS.peerIdentity(of: $0 as NIOSSLHandler) }
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: "peer=\(peer?.description ?? "none")")))
                .whenComplete { [channel = context.channel] _ in channel.close(promise: nil) }
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}
