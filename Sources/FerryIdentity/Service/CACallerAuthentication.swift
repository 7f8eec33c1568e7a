import Foundation
import FerryHTTP
import NIOHTTP1
import X509

/// Who is asking the CA, and how they proved it.
enum CACaller: Sendable, CustomStringConvertible {
    /// A verified client certificate naming a node (`spiffe://<td>/ferry/node/<name>`).
    case nodeCredential(node: String)
    /// A bearer token the configured `BearerAuthenticator` accepted.
    case bearer(BearerCaller)

    /// The only node this caller gets certificates for.
    var node: String {
        switch self {
        case .nodeCredential(let node): node
        case .bearer(let caller): caller.node
        }
    }

    var description: String {
        switch self {
        case .nodeCredential(let node): "node credential of \(node)"
        case .bearer(let caller): "token of \(caller.description), node \(caller.node)"
        }
    }
}

/// A request the CA will not serve: the status, and the reason it answers and logs.
struct CARefusal: Error, Sendable, Hashable {
    var status: HTTPResponseStatus
    var reason: String

    init(_ status: HTTPResponseStatus, _ reason: String) {
        self.status = status
        self.reason = reason
    }
}

/// Establishes who the caller is, from exactly one proof: a client certificate
/// (checked by `verifier`; node credentials only) or, when `bearer` is set,
/// an `Authorization: Bearer` token. Nothing in the request body counts.
struct CACallerAuthentication: Sendable {
    let verifier: PeerVerifier
    let bearer: (any BearerAuthenticator)?
    /// Node credentials revoked by `ferryctl ca revoke-node`.
    var revocations = NodeRevocationList(directory: nil)

    func authenticate(_ request: HTTPRequest) async -> Result<CACaller, CARefusal> {
        let authorization = request.headers["authorization"]
        if !authorization.isEmpty {
            guard let bearer else {
                return .failure(CARefusal(.unauthorized, "bearer tokens are not accepted by this CA: present a node credential"))
            }
            guard request.peerCertificateDER == nil else {
                return .failure(CARefusal(.badRequest, "present a client certificate or a bearer token, not both"))
            }
            return await authenticate(authorization: authorization, with: bearer)
        }
        guard let der = request.peerCertificateDER else {
            let expected = bearer == nil ? "present a node credential" : "present a node credential or a bearer token"
            return .failure(CARefusal(bearer == nil ? .forbidden : .unauthorized, "no client certificate: \(expected)"))
        }
        switch await verifier.verify(der: [der]) {
        case .refused(let refusal):
            return .failure(CARefusal(.forbidden, "client certificate refused: \(refusal)"))
        case .valid(.workload(let id)):
            return .failure(CARefusal(.forbidden, "client certificate is workload \(id); the CA signs only for node credentials"))
        case .valid(.node(let name)):
            let list = revocations.current()
            if let leaf = try? Certificate(derEncoded: der),
               let revoked = list.revocation(node: name, issuedAt: NodeRevocations.issueTime(notValidBefore: leaf.notValidBefore)) {
                return .failure(CARefusal(.forbidden, "the node credential of \(name) (serial \(leaf.serialHex)) was revoked at "
                                          + "\(revoked.revokedAt.ISO8601Format()): \(revoked.reason); issue a new one with "
                                          + "`ferryctl ca issue-node \(name)`"))
            }
            return .success(.nodeCredential(node: name))
        }
    }

    private func authenticate(authorization: [String], with bearer: any BearerAuthenticator) async -> Result<CACaller, CARefusal> {
        guard authorization.count == 1, let token = Self.bearerToken(authorization[0]) else {
            return .failure(CARefusal(.unauthorized, "the Authorization header is not one 'Bearer <token>'"))
        }
        switch await bearer.authenticate(token: token) {
        case .success(let caller):
            return .success(.bearer(caller))
        case .failure(let refusal):
            let status: HTTPResponseStatus = switch refusal.kind {
            case .unauthenticated: .unauthorized
            case .forbidden: .forbidden
            case .unavailable: .serviceUnavailable
            }
            return .failure(CARefusal(status, "bearer token refused: \(refusal.reason)"))
        }
    }

    /// The token of "Bearer <token>" (the scheme is case-insensitive, RFC 9110 §11.1).
    static func bearerToken(_ header: String) -> String? {
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        let token = parts[1].trimmingCharacters(in: .whitespaces)
        return token.isEmpty || token.contains(" ") ? nil : token
    }
}
