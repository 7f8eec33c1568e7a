import Crypto
import FerryHTTP
import FerryMesh
import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import Testing
import X509

@testable import FerryIdentity

/// The CA service end to end on 127.0.0.1, port 0.
@Suite(.timeLimit(.minutes(1))) struct CAServiceTests {
    let authority: CertificateAuthority
    let state: MeshState
    let web = TestPKI.identity("demo", "web")
    let db = TestPKI.identity("demo", "db")

    init() throws {
        authority = try CertificateAuthority.generate(trustDomain: TestPKI.trustDomain)
        state = try TestPKI.state(ttl: .seconds(900), workloads: [
            (namespace: "demo", serviceAccount: "web", node: "node-a"),
            (namespace: "demo", serviceAccount: "db", node: "node-b"),
        ])
    }

    @Test func nodeGetsItsOwnWorkloadAnd403WithTheReasonForAnothers() async throws {
        try await withCAServer { port, server, logs in
            let source = try RemoteCertificateSource(address: "127.0.0.1:\(port)",
                                                     credential: authority.issueNodeCredential(node: "node-a"),
                                                     logger: quietLogger)
            let csr = try WorkloadCSR(identity: web)
            let chain = try await source.sign(csrPEM: csr.pem, identity: web)
            #expect(chain.count == 2 && chain[1] == authority.root)
            #expect(try chain[0].uriSANs == [web.uri])
            #expect(abs(chain[0].notValidAfter.timeIntervalSinceNow - 900) < 5)
            _ = try WorkloadCredential(identity: web, chain: chain, privateKey: csr.privateKey)

            let refused = await #expect(throws: SigningRefused.self) {
                try await source.sign(csrPEM: WorkloadCSR(identity: db).pem, identity: db)
            }
            #expect(refused?.reason == "node node-a has no workload with identity \(db.uri)")
            #expect(refused?.authority == "the CA at 127.0.0.1:\(port)")

            let logged = logs.all.first { $0.level == .warning && $0.metadata["ferry.identity"] == db.uri }
            #expect(logged?.metadata["ferry.node"] == "node-a")
            #expect(logged?.message.contains("node node-a has no workload") == true)
        }
    }

    /// A node credential renews itself (its own node only), and a revoked one
    /// is refused with the reason, its renewals too, until a new one is issued.
    @Test func nodeCredentialsRenewAndARevokedOneIsRefusedWithTheReason() async throws {
        let directory = NSTemporaryDirectory() + "ferry-revoke-\(UInt32.random(in: 0 ... .max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try await withCAServer(revocations: NodeRevocationList(directory: directory)) { port, _, _ in
            let first = try authority.issueNodeCredential(node: "node-a", validity: .seconds(3600))
            let source = try RemoteCertificateSource(address: "127.0.0.1:\(port)", credential: first, logger: quietLogger)
            let renewed = try await source.nodeCredential(for: "node-a")
            #expect(renewed.nodeName == "node-a" && renewed.certificate.serialHex != first.certificate.serialHex)
            #expect(abs(renewed.certificate.notValidAfter.timeIntervalSinceNow - 900) < 5, "as long as workload certificates")
            let other = await #expect(throws: SigningRefused.self) { try await source.nodeCredential(for: "node-b") }
            #expect(other?.reason.contains("may have only its own node credential") == true, "\(String(describing: other))")

            _ = try NodeRevocations.revoke(node: "node-a", reason: "key leaked", directory: directory)
            for credential in [first, renewed] {
                let revoked = try RemoteCertificateSource(address: "127.0.0.1:\(port)", credential: credential, logger: quietLogger)
                let refusal = await #expect(throws: SigningRefused.self) {
                    try await revoked.sign(csrPEM: WorkloadCSR(identity: web).pem, identity: web)
                }
                #expect(refusal?.reason.contains("was revoked") == true && refusal?.reason.contains("key leaked") == true,
                        "\(String(describing: refusal))")
                await #expect(throws: SigningRefused.self) { try await revoked.nodeCredential(for: "node-a") }
            }
            // Certificates carry whole seconds: one issued after the revocation's second.
            try await Task.sleep(for: .seconds(2))
            let reissued = try authority.issueNodeCredential(node: "node-a", validity: .seconds(3600))
            let fresh = try RemoteCertificateSource(address: "127.0.0.1:\(port)", credential: reissued, logger: quietLogger)
            #expect(try await fresh.sign(csrPEM: WorkloadCSR(identity: web).pem, identity: web).count == 2)
        }
    }

    /// An expired node credential gets nothing, and the refusal says why.
    @Test func anExpiredNodeCredentialIsRefusedSayingSo() async throws {
        try await withCAServer { port, _, _ in
            let short = try authority.issueNodeCredential(node: "node-a", validity: .seconds(1))
            try await Task.sleep(for: .seconds(2))
            let source = try RemoteCertificateSource(address: "127.0.0.1:\(port)", credential: short, logger: quietLogger)
            let error = await #expect(throws: (any Error).self) { try await source.nodeCredential(for: "node-a") }
            #expect("\(error.map { "\($0)" } ?? "")".lowercased().contains("expired"), "\(String(describing: error))")
        }
    }

    @Test func clientWithoutACertificateIsRefusedAtTheTLSLayer() async throws {
        try await withCAServer { port, _, _ in
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.trustRoots = .certificates([try authority.root.nioSSLCertificate])
            configuration.certificateVerification = .noHostnameVerification
            MeshTLS.restrictToMesh(&configuration, applicationProtocols: ["http/1.1"])
            let exchange = try CAExchange(host: "127.0.0.1", port: port, contexts: TLSContextSlot(NIOSSLContext(configuration: configuration)),
                                          verifier: PeerVerifier(root: authority.root, trustDomain: TestPKI.trustDomain, logger: quietLogger),
                                          group: MultiThreadedEventLoopGroup.singleton)
            let error = await #expect(throws: CertificateSourceError.self) {
                try await exchange.post(path: CAProtocol.path, json: ByteBuffer(string: "{}"))
            }
            guard case .connectionFailed = error else {
                Issue.record("expected the TLS exchange to fail, got \(String(describing: error))")
                return
            }
        }
    }

    @Test func workloadCertificateIsNotANodeCredential() async throws {
        try await withCAServer { port, server, _ in
            let workload = try TestPKI.workloadCredential(authority, web)
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.certificateChain = workload.nioSSLCertificateChain.map { .certificate($0) }
            configuration.privateKey = .privateKey(workload.nioSSLPrivateKey)
            configuration.trustRoots = .certificates([try authority.root.nioSSLCertificate])
            configuration.certificateVerification = .noHostnameVerification
            MeshTLS.restrictToMesh(&configuration, applicationProtocols: ["http/1.1"])
            let exchange = try CAExchange(host: "127.0.0.1", port: port, contexts: TLSContextSlot(NIOSSLContext(configuration: configuration)),
                                          verifier: PeerVerifier(root: authority.root, trustDomain: TestPKI.trustDomain, logger: quietLogger),
                                          group: MultiThreadedEventLoopGroup.singleton)
            let body = try JSONEncoder().encode(CAProtocol.SigningRequest(csr: WorkloadCSR(identity: web).pem, identity: web.uri))
            let response = try await exchange.post(path: CAProtocol.path, json: ByteBuffer(bytes: body))
            #expect(response.status == .forbidden)
            #expect(String(buffer: response.body).contains("client certificate is workload \(web.uri)"))
        }
    }

    @Test func sourceRefusesAServerThatIsNotTheCA() async throws {
        // A node agent's credential is signed by the same root, but it is not the CA.
        let impostor = try authority.issueNodeCredential(node: "node-b")
        let configuration = TLSConfiguration.makeServerConfigurationWithMTLS(
            certificateChain: try impostor.nioSSLCertificateChain().map { .certificate($0) },
            privateKey: .privateKey(try impostor.privateKey.nioSSLPrivateKey),
            trustRoots: .certificates([try authority.root.nioSSLCertificate])
        )
        try await withEventLoopGroup { group in
            let server = HTTPServer(host: "127.0.0.1", port: 0, group: group, tls: try NIOSSLContext(configuration: configuration),
                                    logger: quietLogger) { _ in .json(CAProtocol.SigningResponse(certificateChain: [])) }
            let port = try await server.start()
            let source = try RemoteCertificateSource(address: "127.0.0.1:\(port)",
                                                     credential: authority.issueNodeCredential(node: "node-a"),
                                                     logger: quietLogger)
            let error = await #expect(throws: CertificateSourceError.self) {
                try await source.sign(csrPEM: WorkloadCSR(identity: web).pem, identity: web)
            }
            #expect(error == .notTheCA(address: "127.0.0.1:\(port)",
                                       refusal: .unexpectedIdentity(presented: "spiffe://cluster.local/ferry/node/node-b",
                                                                    expected: "spiffe://cluster.local/ferry/ca")))
        }
    }

    @Test func connectionRefusedNamesTheAddress() async throws {
        // A port that was just free: bind, note, close.
        let port = try await withEventLoopGroup { group in
            let probe = try await ServerBootstrap(group: group).bind(host: "127.0.0.1", port: 0).get()
            let port = probe.localAddress!.port!
            try await probe.close()
            return port
        }

        let source = try RemoteCertificateSource(address: "127.0.0.1:\(port)",
                                                 credential: authority.issueNodeCredential(node: "node-a"),
                                                 logger: quietLogger)
        let error = await #expect(throws: CertificateSourceError.self) {
            try await source.sign(csrPEM: WorkloadCSR(identity: web).pem, identity: web)
        }
        #expect(error == .unreachable(address: "127.0.0.1:\(port)", reason: "connection refused"))
        #expect(error?.description == "cannot connect to the CA at 127.0.0.1:\(port): connection refused")
    }

    @Test func silentServerTimesOut() async throws {
        // Accepts TCP, never speaks TLS.
        try await withEventLoopGroup { group in
            let silent = try await ServerBootstrap(group: group).bind(host: "127.0.0.1", port: 0).get()
            let port = silent.localAddress!.port!
            let source = try RemoteCertificateSource(address: "127.0.0.1:\(port)",
                                                     credential: authority.issueNodeCredential(node: "node-a"),
                                                     timeout: .milliseconds(300), logger: quietLogger)
            let started = ContinuousClock.now
            let error = await #expect(throws: CertificateSourceError.self) {
                try await source.sign(csrPEM: WorkloadCSR(identity: web).pem, identity: web)
            }
            #expect(error == .timedOut(address: "127.0.0.1:\(port)", after: .milliseconds(300)))
            #expect(ContinuousClock.now - started < .seconds(3))
            try await silent.close()
        }
    }

    @Test func nonsenseFromTheCAIsABadResponse() async throws {
        // A server with a genuine CA serving certificate that answers nonsense.
        let key = P256.Signing.PrivateKey()
        let serving = try authority.issue(publicKey: Certificate.PublicKey(key.publicKey),
                                          name: .certificateAuthority(trustDomain: TestPKI.trustDomain), validity: .seconds(60))
        let configuration = TLSConfiguration.makeServerConfigurationWithMTLS(
            certificateChain: [.certificate(try serving.nioSSLCertificate)],
            privateKey: .privateKey(try key.nioSSLPrivateKey),
            trustRoots: .certificates([try authority.root.nioSSLCertificate])
        )
        try await withEventLoopGroup { group in
            let server = HTTPServer(host: "127.0.0.1", port: 0, group: group, tls: try NIOSSLContext(configuration: configuration),
                                    logger: quietLogger) { request in
                request.uri == CAProtocol.path ? .text("certificates? what certificates") : .error(.serviceUnavailable, "down for maintenance")
            }
            let port = try await server.start()
            let source = try RemoteCertificateSource(address: "127.0.0.1:\(port)",
                                                     credential: authority.issueNodeCredential(node: "node-a"),
                                                     logger: quietLogger)
            let error = await #expect(throws: CertificateSourceError.self) {
                try await source.sign(csrPEM: WorkloadCSR(identity: web).pem, identity: web)
            }
            #expect(error == .badResponse(address: "127.0.0.1:\(port)", status: 200,
                                          detail: "body is not {\"certificateChain\": [PEM]}"))
        }
    }

    @Test func embeddedSourceAppliesTheSamePolicy() async throws {
        let local = LocalCertificateSource(authority: authority, node: "node-a", state: { [state] in state })
        let chain = try await local.sign(csrPEM: WorkloadCSR(identity: web).pem, identity: web)
        #expect(try chain[0].uriSANs == [web.uri])
        let refused = await #expect(throws: SigningRefused.self) {
            try await local.sign(csrPEM: WorkloadCSR(identity: db).pem, identity: db)
        }
        #expect(refused?.reason == "node node-a has no workload with identity \(db.uri)")
    }

    @Test func addressesAreSplitIntoHostAndPort() {
        #expect(CAProtocol.split(address: "10.0.0.1:15012")! == ("10.0.0.1", 15012))
        #expect(CAProtocol.split(address: "[::1]:15012")! == ("::1", 15012))
        #expect(CAProtocol.split(address: "ca.ferry:15012")! == ("ca.ferry", 15012))
        #expect(CAProtocol.split(address: "::1:15012") == nil)
        #expect(CAProtocol.split(address: "10.0.0.1") == nil)
        #expect(CAProtocol.split(address: "10.0.0.1:http") == nil)
    }

    // MARK: -

    private var quietLogger: Logger { Logger(label: "test") { _ in SwiftLogNoOpLogHandler() } }

    private func withCAServer(revocations: NodeRevocationList = NodeRevocationList(directory: nil),
                              _ body: (Int, CAServer, LogCapture) async throws -> Void) async throws {
        let logs = LogCapture()
        try await withEventLoopGroup { group in
            let server = try CAServer(authority: authority, state: { [state] in state }, revocations: revocations,
                                      host: "127.0.0.1", port: 0, group: group, logger: logs.logger)
            let port = try await server.start()
            try await body(port, server, logs)
        }
    }
}
