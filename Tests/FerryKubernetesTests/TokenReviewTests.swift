import FerryIdentity
import FerryKubernetes
import FerryMesh
import Foundation
import Logging
import Testing

/// TokenReviewAuthenticator: the pure reading of a review, then the API calls
/// against the fake API server on 127.0.0.1.
@Suite(.serialized, .timeLimit(.minutes(1))) struct TokenReviewTests {
    static let agent = ServiceAccountName(namespace: "ferry-system", name: "ferry-agent")
    static let quiet = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

    /// A bound token of the agent's account, as the API server describes it.
    static func boundToken(pod: String, node: String?, uid: String = "uid-1", audiences: [String] = ["ferry-ca"],
                           username: String = agent.username) -> JSON {
        var extra: [String: JSON] = [
            TokenReview.podNameKey: [.string(pod)], TokenReview.podUIDKey: [.string(uid)],
            "authentication.kubernetes.io/credential-id": ["JTI=1"],
        ]
        if let node { extra[TokenReview.nodeNameKey] = [.string(node)] }
        return ["username": .string(username), "uid": "sa-uid",
                "groups": ["system:serviceaccounts", "system:serviceaccounts:ferry-system", "system:authenticated"],
                "extra": .object(extra), "audiences": JSON(audiences)]
    }

    static func agentPod(_ name: String, node: String, uid: String) -> JSON {
        ["kind": "Pod", "apiVersion": "v1",
         "metadata": ["name": .string(name), "namespace": "ferry-system", "uid": .string(uid)],
         "spec": ["nodeName": .string(node), "serviceAccountName": "ferry-agent", "containers": [["name": "ferry-agent", "image": "ferry"]]],
         "status": ["phase": "Running"]]
    }

    // MARK: - Reading a review

    @Test func reviewsAreReadStrictly() {
        func outcome(_ status: TokenReview.Status?) -> TokenReview.Outcome {
            TokenReview.outcome(of: status, audience: "ferry-ca", serviceAccount: Self.agent)
        }
        let extra = [TokenReview.podNameKey: ["ferry-agent-x7k2p"], TokenReview.nodeNameKey: ["node-a"]]
        #expect(outcome(.init(authenticated: true, user: .init(username: Self.agent.username, extra: extra), audiences: ["ferry-ca"]))
                == .node("node-a", description: "service account ferry-system/ferry-agent, pod ferry-agent-x7k2p"))
        #expect(outcome(.init(authenticated: true, user: .init(username: Self.agent.username,
                                                                extra: [TokenReview.podNameKey: ["p"], TokenReview.podUIDKey: ["u"]])))
                == .pod(namespace: "ferry-system", name: "p", uid: "u", description: "service account ferry-system/ferry-agent, pod p"))
        #expect(outcome(.init(authenticated: false, error: "token has expired"))
                == .refused(BearerRefusal(.unauthenticated, "token not authenticated: token has expired")))
        #expect(outcome(nil) == .refused(BearerRefusal(.unauthenticated, "token not authenticated: the API server did not authenticate it")))
        #expect(outcome(.init(authenticated: true, user: .init(username: Self.agent.username, extra: extra), audiences: ["api"]))
                == .refused(BearerRefusal(.unauthenticated, "token is for audiences [\"api\"], not ferry-ca")))
        #expect(outcome(.init(authenticated: true, user: .init(username: "system:serviceaccount:default:builder", extra: extra)))
                == .refused(BearerRefusal(.forbidden, "token belongs to system:serviceaccount:default:builder, "
                                          + "not the agent service account system:serviceaccount:ferry-system:ferry-agent")))
        // A legacy (secret-based) token names no pod, so no node either.
        #expect(outcome(.init(authenticated: true, user: .init(username: Self.agent.username)))
                == .refused(BearerRefusal(.forbidden, "token of ferry-system/ferry-agent is bound to no pod: "
                                          + "mount a projected service account token (audience ferry-ca)")))
    }

    // MARK: - Against the API server

    @Test func boundTokenWithNodeClaimGivesItsNode() async throws {
        try await withReviewer(tokens: ["agent-a": Self.boundToken(pod: "ferry-agent-1", node: "node-a")]) { reviewer, server in
            let caller = try await reviewer.authenticate(token: "agent-a").get()
            #expect(caller == BearerCaller(node: "node-a", description: "service account ferry-system/ferry-agent, pod ferry-agent-1"))
            let reviews = try await server.stats("tokenreviews")
            #expect(reviews["create"] == 1)
            let pods = try await server.stats("pods")
            #expect(pods["get"] == nil, "the node claim needs no pod lookup")
        }
    }

    @Test func withoutNodeClaimThePodsNodeIsRead() async throws {
        let tokens = [
            "agent-b": Self.boundToken(pod: "ferry-agent-2", node: nil, uid: "uid-2"),
            "replaced": Self.boundToken(pod: "ferry-agent-2", node: nil, uid: "uid-old"),
            "gone": Self.boundToken(pod: "ferry-agent-9", node: nil),
        ]
        try await withReviewer(tokens: tokens, objects: [Self.agentPod("ferry-agent-2", node: "node-b", uid: "uid-2")]) { reviewer, _ in
            let caller = try await reviewer.authenticate(token: "agent-b").get()
            #expect(caller.node == "node-b")
            #expect(await reviewer.authenticate(token: "replaced").refusal
                    == BearerRefusal(.forbidden, "pod ferry-system/ferry-agent-2 is a new pod (uid uid-2); the token was made for uid uid-old"))
            #expect(await reviewer.authenticate(token: "gone").refusal
                    == BearerRefusal(.forbidden, "pod ferry-system/ferry-agent-9, which the token is bound to, no longer exists"))
        }
    }

    @Test func unknownForeignAndOtherAccountsTokensAreRefused() async throws {
        let tokens = [
            "for-the-api": Self.boundToken(pod: "ferry-agent-1", node: "node-a", audiences: ["https://kubernetes.default.svc"]),
            "builder": Self.boundToken(pod: "builder-1", node: "node-a", username: "system:serviceaccount:default:builder"),
        ]
        try await withReviewer(tokens: tokens) { reviewer, _ in
            let unknown = await reviewer.authenticate(token: "forged").refusal
            #expect(unknown?.kind == .unauthenticated)
            #expect(unknown?.reason.contains("invalid bearer token") == true)
            let audience = await reviewer.authenticate(token: "for-the-api").refusal
            #expect(audience?.kind == .unauthenticated)
            #expect(audience?.reason.contains("invalid for the target audiences [\"ferry-ca\"]") == true)
            let builder = await reviewer.authenticate(token: "builder").refusal
            #expect(builder?.kind == .forbidden)
        }
    }

    @Test func aReviewerThatCannotAskIsUnavailable() async throws {
        try await withReviewer(tokens: ["agent-a": Self.boundToken(pod: "ferry-agent-1", node: "node-a")]) { reviewer, server in
            try await server.configure(tokenReviewStatus: 403)
            let forbidden = await reviewer.authenticate(token: "agent-a").refusal
            #expect(forbidden?.kind == .unavailable)
            #expect(forbidden?.reason.hasPrefix("TokenReview failed: POST /apis/authentication.k8s.io/v1/tokenreviews: HTTP 403") == true)
            #expect(forbidden?.reason.hasSuffix("(the CA's ClusterRole needs create on tokenreviews and get on pods)") == true)

            server.kill()
            let down = await reviewer.authenticate(token: "agent-a").refusal
            #expect(down?.kind == .unavailable)
        }
    }

    // MARK: -

    private func withReviewer(tokens: [String: JSON], objects: [JSON] = [],
                              _ body: (TokenReviewAuthenticator, FakeAPIServer) async throws -> Void) async throws {
        let server = try await FakeAPIServer.start(objects: objects)
        defer { server.stop() }
        try await server.configure(tokens: tokens)
        let client = try KubernetesClient(credentials: ClusterCredentials(server: server.url, origin: "fake API server"),
                                          connectTimeout: .seconds(1))
        let reviewer = TokenReviewAuthenticator(client: client, serviceAccount: Self.agent, timeout: .seconds(2), logger: Self.quiet)
        do {
            try await body(reviewer, server)
        } catch {
            try? await client.shutdown()
            throw error
        }
        try await client.shutdown()
    }
}

extension Result where Failure == BearerRefusal {
    var refusal: BearerRefusal? {
        if case .failure(let refusal) = self { return refusal }
        return nil
    }
}
