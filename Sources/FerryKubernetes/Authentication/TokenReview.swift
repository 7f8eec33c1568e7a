import FerryIdentity
import Foundation

/// `authentication.k8s.io/v1` TokenReview on the wire, and what its answer
/// means for the CA: which node's agent holds the token, or why it is refused.
/// Pure, so every reading is tested without a server.
public struct TokenReview: Codable, Sendable, Hashable {
    public static let path = "/apis/authentication.k8s.io/v1/tokenreviews"

    /// The `extra` keys of a bound (projected) service-account token.
    public static let nodeNameKey = "authentication.kubernetes.io/node-name"
    public static let podNameKey = "authentication.kubernetes.io/pod-name"
    public static let podUIDKey = "authentication.kubernetes.io/pod-uid"

    public var apiVersion = "authentication.k8s.io/v1"
    public var kind = "TokenReview"
    public var spec: Spec
    public var status: Status?

    public struct Spec: Codable, Sendable, Hashable {
        public var token: String
        public var audiences: [String]?
    }

    public struct Status: Codable, Sendable, Hashable {
        public var authenticated: Bool?
        public var user: User?
        public var audiences: [String]?
        public var error: String?

        public init(authenticated: Bool?, user: User? = nil, audiences: [String]? = nil, error: String? = nil) {
            self.authenticated = authenticated
            self.user = user
            self.audiences = audiences
            self.error = error
        }
    }

    public struct User: Codable, Sendable, Hashable {
        public var username: String?
        public var uid: String?
        public var groups: [String]?
        public var extra: [String: [String]]?

        public init(username: String?, uid: String? = nil, groups: [String]? = nil, extra: [String: [String]]? = nil) {
            self.username = username
            self.uid = uid
            self.groups = groups
            self.extra = extra
        }
    }

    public init(token: String, audiences: [String]) {
        spec = Spec(token: token, audiences: audiences)
    }

    /// Who the reviewed token says the caller is.
    public enum Outcome: Sendable, Hashable {
        /// The token names its node (Kubernetes ≥ 1.30 puts it in bound tokens).
        case node(String, description: String)
        /// Only the pod is named: the CA reads the pod's `spec.nodeName`, and
        /// checks the pod is still the one the token was made for.
        case pod(namespace: String, name: String, uid: String?, description: String)
        case refused(BearerRefusal)
    }

    /// Reads a review's status for a CA that accepts only `serviceAccount`'s
    /// tokens for `audience`.
    public static func outcome(of status: Status?, audience: String, serviceAccount: ServiceAccountName) -> Outcome {
        guard let status, status.authenticated == true else {
            let reason = status?.error.flatMap { $0.isEmpty ? nil : $0 } ?? "the API server did not authenticate it"
            return .refused(BearerRefusal(.unauthenticated, "token not authenticated: \(reason)"))
        }
        // The server checked spec.audiences; an answer for other audiences means
        // it ignored them (an old or odd authenticator), which is no proof here.
        if let audiences = status.audiences, !audiences.contains(audience) {
            return .refused(BearerRefusal(.unauthenticated, "token is for audiences \(audiences), not \(audience)"))
        }
        let username = status.user?.username ?? ""
        guard username == serviceAccount.username else {
            return .refused(BearerRefusal(.forbidden, "token belongs to \(username.isEmpty ? "no user" : username), "
                                          + "not the agent service account \(serviceAccount.username)"))
        }
        let extra = status.user?.extra ?? [:]
        let pod = extra[podNameKey]?.first
        let description = "service account \(serviceAccount), pod \(pod ?? "unknown")"
        if let node = extra[nodeNameKey]?.first, !node.isEmpty {
            return .node(node, description: description)
        }
        if let pod, !pod.isEmpty {
            return .pod(namespace: serviceAccount.namespace, name: pod, uid: extra[podUIDKey]?.first, description: description)
        }
        return .refused(BearerRefusal(.forbidden, "token of \(serviceAccount) is bound to no pod: "
                                      + "mount a projected service account token (audience \(audience))"))
    }
}

/// `namespace/name` of a service account; its user name is
/// `system:serviceaccount:<namespace>:<name>`.
public struct ServiceAccountName: Sendable, Hashable, CustomStringConvertible {
    public var namespace: String
    public var name: String

    public init(namespace: String, name: String) {
        self.namespace = namespace
        self.name = name
    }

    public var username: String { "system:serviceaccount:\(namespace):\(name)" }
    public var description: String { "\(namespace)/\(name)" }
}
