import FerryMesh
import Foundation
import Logging
import NIOPosix
import Synchronization
import Testing
import X509

@testable import FerryIdentity

/// The agent's side of token authentication, against a live CA on 127.0.0.1:
/// a token file and the mesh root are all it has; it gets its node credential,
/// then its workloads' certificates, and renews the node credential.
@Suite(.timeLimit(.minutes(1))) struct TokenAgentTests {
    let authority: CertificateAuthority
    let web = TestPKI.identity("demo", "web")
    let db = TestPKI.identity("demo", "db")
    let reviewer = TableAuthenticator([
        "token-a": .success(BearerCaller(node: "node-a", description: "pod agent-a")),
        "token-b": .success(BearerCaller(node: "node-b", description: "pod agent-b")),
    ])

    init() throws {
        authority = try CertificateAuthority.generate(trustDomain: TestPKI.trustDomain)
    }

    @Test func tokenFileAndRootAreEnoughForNodeCredentialAndWorkloadCertificates() async throws {
        try await withTemporaryDirectory { directory in
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let tokenPath = directory + "/token"
            try "token-a\n".write(toFile: tokenPath, atomically: true, encoding: .utf8)
            try await withCAServer(ttl: .seconds(900)) { port in
                let source = try RemoteCertificateSource(
                    address: "127.0.0.1:\(port)",
                    authentication: .bearer(root: MeshRoot(certificate: authority.root), token: { try Self.read(tokenPath) }),
                    logger: quietLogger)
                let node = try await source.nodeCredential(for: "node-a")
                #expect(node.nodeName == "node-a" && node.trustDomain == TestPKI.trustDomain)
                #expect(node.root == authority.root)

                let chain = try await source.sign(csrPEM: WorkloadCSR(identity: web).pem, identity: web)
                #expect(try chain[0].uriSANs == [web.uri])
                let refused = await #expect(throws: SigningRefused.self) {
                    try await source.sign(csrPEM: WorkloadCSR(identity: db).pem, identity: db)
                }
                #expect(refused?.reason == "node node-a has no workload with identity \(db.uri)")

                // The file is read again for each request: node B's token now,
                // so node A's credential is refused and node B's workload signed.
                try "token-b".write(toFile: tokenPath, atomically: true, encoding: .utf8)
                let notOwn = await #expect(throws: SigningRefused.self) { try await source.nodeCredential(for: "node-a") }
                #expect(notOwn?.reason.hasPrefix("node node-b may have only its own node credential") == true)
                _ = try await source.sign(csrPEM: WorkloadCSR(identity: db).pem, identity: db)
                #expect(reviewer.asked == ["token-a", "token-a", "token-a", "token-b", "token-b"])

                try FileManager.default.removeItem(atPath: tokenPath)
                let missing = await #expect(throws: CertificateSourceError.self) { try await source.nodeCredential(for: "node-b") }
                guard case .tokenUnavailable = missing else {
                    Issue.record("expected tokenUnavailable, got \(String(describing: missing))")
                    return
                }
            }
        }
    }

    @Test func rejectedTokenIsARefusalWithTheCAsReason() async throws {
        try await withCAServer(ttl: .seconds(900)) { port in
            let source = try RemoteCertificateSource(
                address: "127.0.0.1:\(port)",
                authentication: .bearer(root: MeshRoot(certificate: authority.root), token: { "forged" }), logger: quietLogger)
            let refused = await #expect(throws: SigningRefused.self) { try await source.nodeCredential(for: "node-a") }
            #expect(refused?.reason == "bearer token refused: no such token")
        }
    }

    @Test func renewerReplacesTheNodeCredentialAtHalfLife() async throws {
        try await withCAServer(ttl: .seconds(2)) { port in
            let source = try RemoteCertificateSource(
                address: "127.0.0.1:\(port)",
                authentication: .bearer(root: MeshRoot(certificate: authority.root), token: { "token-a" }), logger: quietLogger)
            let first = try await source.nodeCredential(for: "node-a")
            let installed = Mutex<[NodeCredential]>([])
            let renewer = NodeCredentialRenewer(initial: first, fetch: { try await source.nodeCredential(for: "node-a") },
                                                install: { credential in installed.withLock { $0.append(credential) } },
                                                logger: quietLogger)
            let started = ContinuousClock.now
            let task = Task { try await renewer.run() }
            defer { task.cancel() }
            while installed.withLock({ $0.isEmpty }) && ContinuousClock.now - started < .seconds(5) {
                try await Task.sleep(for: .milliseconds(50))
            }
            let renewed = try #require(installed.withLock { $0.first })
            let waited = ContinuousClock.now - started
            // Half of a 2 s validity: not at once, and well before expiry.
            #expect(waited > .milliseconds(600) && waited < .milliseconds(1900), "renewed after \(waited)")
            #expect(renewed.certificate.serialNumber != first.certificate.serialNumber)
            #expect(renewed.nodeName == "node-a")
            #expect(renewer.current.certificate.serialNumber == renewed.certificate.serialNumber)
            #expect(renewer.rotations == 1)
        }
    }

    @Test func meshRootNamesItsTrustDomainAndRefusesLeaves() throws {
        #expect(try MeshRoot(certificate: authority.root).trustDomain == TestPKI.trustDomain)
        let leaf = try authority.issueNodeCredential(node: "node-a").certificate
        #expect(throws: CredentialFileError.self) { try MeshRoot(certificate: leaf, origin: "/etc/ferry/ca.crt") }
    }

    // MARK: -

    private var quietLogger: Logger { Logger(label: "test") { _ in SwiftLogNoOpLogHandler() } }

    private static func read(_ path: String) throws -> String {
        try String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private func withCAServer(ttl: Duration, _ body: (Int) async throws -> Void) async throws {
        let state = try TestPKI.state(ttl: ttl, workloads: [
            (namespace: "demo", serviceAccount: "web", node: "node-a"),
            (namespace: "demo", serviceAccount: "db", node: "node-b"),
        ])
        try await withEventLoopGroup { group in
            let server = try CAServer(authority: authority, state: { state }, bearer: reviewer, host: "127.0.0.1", port: 0,
                                      group: group, logger: quietLogger)
            let port = try await server.start()
            try await body(port)
        }
    }
}
