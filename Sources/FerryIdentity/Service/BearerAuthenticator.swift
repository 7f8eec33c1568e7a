/// Decides who holds a bearer token presented to the CA instead of a client
/// certificate: which node's agent it is, or why it is refused. The CA service
/// knows nothing of where tokens come from; ferryd plugs in Kubernetes
/// TokenReview (`TokenReviewAuthenticator` in FerryKubernetes).
public protocol BearerAuthenticator: Sendable {
    func authenticate(token: String) async -> Result<BearerCaller, BearerRefusal>
}

/// An agent authenticated by its token.
public struct BearerCaller: Sendable, Hashable, CustomStringConvertible {
    /// The node the agent runs on: the only node it gets certificates for.
    public var node: String
    /// Who it is, for logs: "service account ferry-system/ferry-agent, pod ferry-agent-x7k2p".
    public var description: String

    public init(node: String, description: String) {
        self.node = node
        self.description = description
    }
}

/// Why a token was not accepted.
public struct BearerRefusal: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        /// The token proves nothing (unknown, expired, for another audience): 401.
        case unauthenticated
        /// The token is genuine but its holder may not have certificates: 403.
        case forbidden
        /// The token could not be checked now (the reviewer is unreachable): 503.
        case unavailable
    }

    public var kind: Kind
    public var reason: String

    public init(_ kind: Kind, _ reason: String) {
        self.kind = kind
        self.reason = reason
    }

    public var description: String { reason }
}
