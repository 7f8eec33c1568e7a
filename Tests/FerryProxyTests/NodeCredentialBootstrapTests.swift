@testable import FerryProxy
import FerryIdentity
import FerryMesh
import Logging
import NIOPosix
import Synchronization
import Testing

/// The agent's first node credential: retried while the CA cannot decide,
/// given up at once when it refuses.
@Suite(.timeLimit(.minutes(1))) struct NodeCredentialBootstrapTests {
    let quiet = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

    @Test func retriesWhileTheReviewerIsDownAndStopsOnARefusal() async throws {
        let authority = try CertificateAuthority.generate(trustDomain: "cluster.local")
        let reviewer = ScriptedAuthenticator([
            .failure(BearerRefusal(.unavailable, "TokenReview failed: connection refused")),
            .failure(BearerRefusal(.unavailable, "TokenReview failed: connection refused")),
            .success(BearerCaller(node: "node-a", description: "pod agent-a")),
            .failure(BearerRefusal(.forbidden, "token belongs to someone else")),
        ])
        let ca = try CAServer(authority: authority, state: { MeshState.empty }, bearer: reviewer, host: "127.0.0.1", port: 0,
                              group: MultiThreadedEventLoopGroup.singleton, logger: quiet)
        let port = try await ca.start()
        let source = try RemoteCertificateSource(
            address: "127.0.0.1:\(port)",
            authentication: .bearer(root: MeshRoot(certificate: authority.root), token: { "token" }), logger: quiet)
        var bootstrap = NodeCredentialBootstrap(source: source, node: "node-a", logger: quiet)
        bootstrap.schedule = RenewalSchedule(retryInitial: .milliseconds(20), retryMaximum: .milliseconds(50))

        let credential = try await bootstrap.fetch()
        #expect(credential.nodeName == "node-a")
        #expect(reviewer.calls == 3, "two 503s retried, then issued")

        let refused = await #expect(throws: SigningRefused.self) { try await bootstrap.fetch() }
        #expect(refused?.reason == "bearer token refused: token belongs to someone else")
        #expect(reviewer.calls == 4, "a refusal is not retried")
    }

    @Test func onlyWhatTimeCanFixIsRetried() {
        #expect(NodeCredentialBootstrap.isTransient(CertificateSourceError.unreachable(address: "a", reason: "refused")))
        #expect(NodeCredentialBootstrap.isTransient(CertificateSourceError.tokenUnavailable(reason: "no file")))
        #expect(NodeCredentialBootstrap.isTransient(CertificateSourceError.badResponse(address: "a", status: 503, detail: "")))
        #expect(!NodeCredentialBootstrap.isTransient(CertificateSourceError.badResponse(address: "a", status: 400, detail: "")))
        #expect(!NodeCredentialBootstrap.isTransient(SigningRefused(authority: "the CA", reason: "no")))
    }
}

/// Answers each call with the next scripted result.
final class ScriptedAuthenticator: BearerAuthenticator {
    private let script: Mutex<[Result<BearerCaller, BearerRefusal>]>
    private let count = Mutex(0)

    init(_ script: [Result<BearerCaller, BearerRefusal>]) { self.script = Mutex(script) }

    func authenticate(token: String) async -> Result<BearerCaller, BearerRefusal> {
        count.withLock { $0 += 1 }
        return script.withLock { $0.isEmpty ? .failure(BearerRefusal(.unauthenticated, "script ended")) : $0.removeFirst() }
    }

    var calls: Int { count.withLock { $0 } }
}
