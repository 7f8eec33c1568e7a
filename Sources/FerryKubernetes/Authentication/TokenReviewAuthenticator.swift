import FerryIdentity
import Foundation
import Logging

/// The CA's `BearerAuthenticator` in a cluster: each token goes to the API
/// server as a TokenReview for `audience`; it must belong to the agents'
/// service account, and the node is the one the token names or, for tokens
/// that name only their pod, that pod's `spec.nodeName`.
///
/// The CA's own account needs `create` on `tokenreviews` and `get` on `pods`
/// (Deploy/ca-rbac.yaml). An API server that cannot be asked is `unavailable`
/// (503: the agent retries), never a refusal.
public struct TokenReviewAuthenticator: BearerAuthenticator {
    public let audience: String
    public let serviceAccount: ServiceAccountName
    private let client: KubernetesClient
    private let timeout: Duration
    private let logger: Logger

    public static let defaultAudience = "ferry-ca"

    public init(client: KubernetesClient, audience: String = defaultAudience, serviceAccount: ServiceAccountName,
                timeout: Duration = .seconds(5), logger: Logger) {
        self.client = client
        self.audience = audience
        self.serviceAccount = serviceAccount
        self.timeout = timeout
        self.logger = logger
    }

    public func authenticate(token: String) async -> Result<BearerCaller, BearerRefusal> {
        let review: TokenReview
        do {
            let body = Array(try JSONEncoder().encode(TokenReview(token: token, audiences: [audience])))
            let answer = try await client.create(TokenReview.path, json: body, timeout: timeout)
            review = try JSONDecoder().decode(TokenReview.self, from: Data(answer.utf8))
        } catch let error as APIError {
            return .failure(BearerRefusal(.unavailable, "TokenReview failed: \(error)\(Self.hint(error))"))
        } catch let error as DecodingError {
            return .failure(BearerRefusal(.unavailable, "TokenReview answer is not a TokenReview: \(error)"))
        } catch {
            return .failure(BearerRefusal(.unavailable, "TokenReview failed: \(error)"))
        }
        let result: Result<BearerCaller, BearerRefusal>
        switch TokenReview.outcome(of: review.status, audience: audience, serviceAccount: serviceAccount) {
        case .refused(let refusal):
            result = .failure(refusal)
        case .node(let node, let description):
            result = .success(BearerCaller(node: node, description: description))
        case .pod(let namespace, let name, let uid, let description):
            result = await node(ofPod: namespace, name, uid: uid).map { BearerCaller(node: $0, description: description) }
        }
        // The CA logs every refusal with its reason; this is the reviewer's view.
        logger.debug("token reviewed", metadata: ["ferry.review": "\(result)"])
        return result
    }

    /// The node of the pod a token is bound to, for tokens without the node-name
    /// claim (Kubernetes before 1.30).
    private func node(ofPod namespace: String, _ name: String, uid: String?) async -> Result<String, BearerRefusal> {
        let pod: PodPlacement
        do {
            let text = try await client.getObject("/api/v1/namespaces/\(namespace)/pods/\(name)", timeout: timeout)
            pod = try JSONDecoder().decode(PodPlacement.self, from: Data(text.utf8))
        } catch let error as APIError where error.statusCode == 404 {
            return .failure(BearerRefusal(.forbidden, "pod \(namespace)/\(name), which the token is bound to, no longer exists"))
        } catch let error as APIError {
            return .failure(BearerRefusal(.unavailable, "reading pod \(namespace)/\(name) failed: \(error)\(Self.hint(error))"))
        } catch {
            return .failure(BearerRefusal(.unavailable, "reading pod \(namespace)/\(name) failed: \(error)"))
        }
        if let uid, let current = pod.metadata?.uid, uid != current {
            return .failure(BearerRefusal(.forbidden, "pod \(namespace)/\(name) is a new pod (uid \(current)); "
                                          + "the token was made for uid \(uid)"))
        }
        guard let node = pod.spec?.nodeName, !node.isEmpty else {
            return .failure(BearerRefusal(.forbidden, "pod \(namespace)/\(name) is not scheduled on a node"))
        }
        return .success(node)
    }

    private static func hint(_ error: APIError) -> String {
        switch error.statusCode {
        case 401: " (the CA's own credentials are not accepted)"
        case 403: " (the CA's ClusterRole needs create on tokenreviews and get on pods)"
        default: ""
        }
    }

    /// The two fields of a Pod the CA reads.
    private struct PodPlacement: Decodable {
        struct Metadata: Decodable { var uid: String? }
        struct Spec: Decodable { var nodeName: String? }
        var metadata: Metadata?
        var spec: Spec?
    }
}
