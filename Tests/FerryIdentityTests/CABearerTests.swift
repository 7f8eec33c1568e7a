import FerryMesh
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization
import Testing
import X509

@testable import FerryIdentity

/// The CA service's bearer-token path, on 127.0.0.1 port 0, with a reviewer
/// that answers from a table.
@Suite(.timeLimit(.minutes(1))) struct CABearerTests {
    let authority: CertificateAuthority
    let state: MeshState
    let web = TestPKI.identity("demo", "web")
    let db = TestPKI.identity("demo", "db")
    let reviewer = TableAuthenticator([
        "token-a": .success(BearerCaller(node: "node-a", description: "pod agent-a")),
        "token-b": .success(BearerCaller(node: "node-b", description: "pod agent-b")),
        "expired": .failure(BearerRefusal(.unauthenticated, "the token has expired")),
        "stranger": .failure(BearerRefusal(.forbidden, "the token is for default/builder, not ferry-system/ferry-agent")),
        "no-reviewer": .failure(BearerRefusal(.unavailable, "TokenReview failed: connection refused")),
    ])

    init() throws {
        authority = try CertificateAuthority.generate(trustDomain: TestPKI.trustDomain)
        state = try TestPKI.state(ttl: .seconds(900), workloads: [
            (namespace: "demo", serviceAccount: "web", node: "node-a"),
            (namespace: "demo", serviceAccount: "db", node: "node-b"),
        ])
    }

    @Test func tokenOfNodeAGetsNodeAsWorkloadAnd403ForNodeBs() async throws {
        try await withCAServer { port, logs in
            let csr = try WorkloadCSR(identity: web)
            let response = try await post(port, CAProtocol.path, CAProtocol.SigningRequest(csr: csr.pem, identity: web.uri),
                                          token: "token-a")
            #expect(response.status == .ok)
            let chain = try certificates(response)
            #expect(try chain[0].uriSANs == [web.uri])
            #expect(chain[1] == authority.root)
            _ = try WorkloadCredential(identity: web, chain: chain, privateKey: csr.privateKey)

            let refused = try await post(port, CAProtocol.path,
                                         CAProtocol.SigningRequest(csr: WorkloadCSR(identity: db).pem, identity: db.uri),
                                         token: "token-a")
            #expect(refused.status == .forbidden)
            #expect(errorText(refused) == "node node-a has no workload with identity \(db.uri)")
            let logged = logs.all.first { $0.level == .warning && $0.metadata["ferry.identity"] == db.uri }
            #expect(logged?.metadata["ferry.node"] == "node-a")
            #expect(logged?.metadata["ferry.caller"] == "token of pod agent-a, node node-a")

            // The same workload for node B's own token.
            let other = try await post(port, CAProtocol.path,
                                       CAProtocol.SigningRequest(csr: WorkloadCSR(identity: db).pem, identity: db.uri),
                                       token: "token-b")
            #expect(other.status == .ok)
        }
    }

    @Test func refusedTokensGetTheirStatusAndReason() async throws {
        try await withCAServer { port, logs in
            let body = CAProtocol.SigningRequest(csr: try WorkloadCSR(identity: web).pem, identity: web.uri)
            let cases: [(token: String, status: HTTPResponseStatus, reason: String)] = [
                ("expired", .unauthorized, "bearer token refused: the token has expired"),
                ("stranger", .forbidden, "bearer token refused: the token is for default/builder, not ferry-system/ferry-agent"),
                ("no-reviewer", .serviceUnavailable, "bearer token refused: TokenReview failed: connection refused"),
                ("unknown", .unauthorized, "bearer token refused: no such token"),
            ]
            for (token, status, reason) in cases {
                let response = try await post(port, CAProtocol.path, body, token: token)
                #expect(response.status == status, "token \(token)")
                #expect(errorText(response) == reason, "token \(token)")
                #expect(logs.all.contains { $0.level == .warning && $0.metadata["ferry.refusal"] == "\(reason)" }, "token \(token)")
            }
            #expect(reviewer.asked.sorted() == ["expired", "no-reviewer", "stranger", "unknown"])
        }
    }

    @Test func malformedAuthorizationAndNoProofAre401() async throws {
        try await withCAServer { port, _ in
            let body = CAProtocol.SigningRequest(csr: try WorkloadCSR(identity: web).pem, identity: web.uri)
            let basic = try await post(port, CAProtocol.path, body, authorization: "Basic dXNlcjpwYXNz")
            #expect(basic.status == .unauthorized)
            #expect(errorText(basic) == "the Authorization header is not one 'Bearer <token>'")
            let empty = try await post(port, CAProtocol.path, body, authorization: "Bearer ")
            #expect(empty.status == .unauthorized)
            let none = try await post(port, CAProtocol.path, body, authorization: nil)
            #expect(none.status == .unauthorized)
            #expect(errorText(none) == "no client certificate: present a node credential or a bearer token")
            #expect(reviewer.asked.isEmpty)
        }
    }

    @Test func nodeCredentialOnlyForTheCallersOwnNode() async throws {
        try await withCAServer { port, logs in
            let own = try MeshCSR(name: .node(trustDomain: TestPKI.trustDomain, name: "node-a"))
            let response = try await post(port, CAProtocol.nodeCredentialPath, CAProtocol.NodeCredentialRequest(csr: own.pem),
                                          token: "token-a")
            #expect(response.status == .ok)
            let chain = try certificates(response)
            let credential = try NodeCredential(certificate: chain[0], privateKey: own.privateKey, root: chain[1])
            #expect(credential.nodeName == "node-a")
            #expect(chain[1] == authority.root)
            #expect(abs(chain[0].notValidAfter.timeIntervalSinceNow - 900) < 5)
            let verified = try await PeerVerifier(root: authority.root, trustDomain: TestPKI.trustDomain, logger: logs.logger)
                .verify(chain)
            #expect(verified == .valid(.node("node-a")))

            let foreign = try MeshCSR(name: .node(trustDomain: TestPKI.trustDomain, name: "node-b"))
            let refused = try await post(port, CAProtocol.nodeCredentialPath, CAProtocol.NodeCredentialRequest(csr: foreign.pem),
                                         token: "token-a")
            #expect(refused.status == .forbidden)
            #expect(errorText(refused) == "node node-a may have only its own node credential "
                    + "(spiffe://cluster.local/ferry/node/node-a); the CSR requests spiffe://cluster.local/ferry/node/node-b")

            let workload = try MeshCSR(name: .workload(web))
            let asWorkload = try await post(port, CAProtocol.nodeCredentialPath,
                                            CAProtocol.NodeCredentialRequest(csr: workload.pem), token: "token-a")
            #expect(asWorkload.status == .forbidden)

            let unauthenticated = try await post(port, CAProtocol.nodeCredentialPath,
                                                 CAProtocol.NodeCredentialRequest(csr: own.pem), token: "expired")
            #expect(unauthenticated.status == .unauthorized)
        }
    }

    /// A node credential signs as before, and renews itself: its own node's
    /// credential only (file-mode agents renew at half-life).
    @Test func nodeCredentialsStillWorkAndRenewOnlyTheirOwn() async throws {
        try await withCAServer { port, _ in
            let node = try authority.issueNodeCredential(node: "node-a")
            let source = try RemoteCertificateSource(address: "127.0.0.1:\(port)", credential: node, logger: quietLogger)
            let chain = try await source.sign(csrPEM: WorkloadCSR(identity: web).pem, identity: web)
            #expect(try chain[0].uriSANs == [web.uri])

            let exchange = try self.exchange(port, credential: node)
            let csr = try MeshCSR(name: .node(trustDomain: TestPKI.trustDomain, name: "node-a"))
            let body = ByteBuffer(bytes: try JSONEncoder().encode(CAProtocol.NodeCredentialRequest(csr: csr.pem)))
            let again = try await exchange.post(path: CAProtocol.nodeCredentialPath, json: body)
            #expect(again.status == .ok, "\(String(buffer: again.body))")
            let otherCSR = try MeshCSR(name: .node(trustDomain: TestPKI.trustDomain, name: "node-b"))
            let other = try await exchange.post(path: CAProtocol.nodeCredentialPath,
                                                json: ByteBuffer(bytes: try JSONEncoder().encode(CAProtocol.NodeCredentialRequest(csr: otherCSR.pem))))
            #expect(other.status == .forbidden)
            #expect(String(buffer: other.body).contains("may have only its own node credential"), "\(String(buffer: other.body))")

            // Two proofs at once are refused rather than one picked.
            let both = try await exchange.post(path: CAProtocol.path, json: body, authorization: "Bearer token-b")
            #expect(both.status == .badRequest)
            #expect(String(buffer: both.body).contains("not both"))
            #expect(reviewer.asked.isEmpty)
        }
    }

    @Test func aCAWithoutReviewerRefusesTokens() async throws {
        // No client certificate at all fails the handshake there (CAServiceTests);
        // a node credential plus a token is still refused, and says why.
        let logs = LogCapture()
        try await withEventLoopGroup { group in
            let server = try CAServer(authority: authority, state: { [state] in state }, host: "127.0.0.1", port: 0,
                                      group: group, logger: logs.logger)
            let port = try await server.start()
            let exchange = try self.exchange(port, credential: authority.issueNodeCredential(node: "node-a"))
            let body = ByteBuffer(bytes: try JSONEncoder().encode(
                CAProtocol.SigningRequest(csr: WorkloadCSR(identity: web).pem, identity: web.uri)))
            let response = try await exchange.post(path: CAProtocol.path, json: body, authorization: "Bearer token-a")
            #expect(response.status == .unauthorized)
            #expect(String(buffer: response.body).contains("bearer tokens are not accepted by this CA: present a node credential"))
            #expect(logs.all.contains { $0.level == .warning && $0.message.contains("bearer tokens are not accepted") })
        }
    }

    // MARK: -

    private var quietLogger: Logger { Logger(label: "test") { _ in SwiftLogNoOpLogHandler() } }

    private func withCAServer(_ body: (Int, LogCapture) async throws -> Void) async throws {
        let logs = LogCapture()
        try await withEventLoopGroup { group in
            let server = try CAServer(authority: authority, state: { [state] in state }, bearer: reviewer,
                                      host: "127.0.0.1", port: 0, group: group, logger: logs.logger)
            let port = try await server.start()
            try await body(port, logs)
        }
    }

    /// A TLS client that checks the CA, presenting `credential` if given.
    private func exchange(_ port: Int, credential: NodeCredential? = nil) throws -> CAExchange {
        var configuration = TLSConfiguration.makeClientConfiguration()
        if let credential {
            configuration.certificateChain = try credential.nioSSLCertificateChain().map { .certificate($0) }
            configuration.privateKey = .privateKey(try credential.privateKey.nioSSLPrivateKey)
        }
        configuration.trustRoots = .certificates([try authority.root.nioSSLCertificate])
        configuration.certificateVerification = .noHostnameVerification
        MeshTLS.restrictToMesh(&configuration, applicationProtocols: ["http/1.1"])
        return CAExchange(host: "127.0.0.1", port: port, contexts: TLSContextSlot(try NIOSSLContext(configuration: configuration)),
                          verifier: try PeerVerifier(root: authority.root, trustDomain: TestPKI.trustDomain, logger: quietLogger),
                          group: MultiThreadedEventLoopGroup.singleton)
    }

    private func post(_ port: Int, _ path: String, _ body: some Encodable, token: String) async throws -> CAExchange.Response {
        try await post(port, path, body, authorization: "Bearer \(token)")
    }

    /// Without a client certificate; `authorization` is sent as is.
    private func post(_ port: Int, _ path: String, _ body: some Encodable, authorization: String?) async throws -> CAExchange.Response {
        let exchange = try exchange(port)
        let json = ByteBuffer(bytes: try JSONEncoder().encode(body))
        guard let authorization else { return try await exchange.post(path: path, json: json) }
        return try await exchange.post(path: path, json: json, authorization: authorization)
    }

    private func certificates(_ response: CAExchange.Response) throws -> [Certificate] {
        try JSONDecoder().decode(CAProtocol.SigningResponse.self, from: Data(String(buffer: response.body).utf8))
            .certificateChain.map { try Certificate(pemEncoded: $0) }
    }

    private func errorText(_ response: CAExchange.Response) -> String? {
        try? JSONDecoder().decode(CAProtocol.ErrorResponse.self, from: Data(String(buffer: response.body).utf8)).error
    }
}

/// A `BearerAuthenticator` that answers from a table and records what it was asked.
final class TableAuthenticator: BearerAuthenticator {
    private let answers: [String: Result<BearerCaller, BearerRefusal>]
    private let log = Mutex<[String]>([])

    init(_ answers: [String: Result<BearerCaller, BearerRefusal>]) { self.answers = answers }

    func authenticate(token: String) async -> Result<BearerCaller, BearerRefusal> {
        log.withLock { $0.append(token) }
        return answers[token] ?? .failure(BearerRefusal(.unauthenticated, "no such token"))
    }

    /// Tokens refused or accepted, in order.
    var asked: [String] { log.withLock { $0 } }
}
