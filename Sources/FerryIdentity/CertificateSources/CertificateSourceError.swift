/// Why a remote CA gave no certificate (besides refusing: `SigningRefused`).
public enum CertificateSourceError: Error, Hashable, Sendable, CustomStringConvertible {
    case invalidAddress(String)
    case unreachable(address: String, reason: String)
    /// The server at the address is not the mesh CA (its certificate was refused).
    case notTheCA(address: String, refusal: PeerRefusal)
    /// The TLS handshake or the exchange failed for another reason (the CA refusing
    /// this node's credential looks like this from here).
    case connectionFailed(address: String, reason: String)
    case timedOut(address: String, after: Duration)
    case badResponse(address: String, status: Int, detail: String)
    /// The bearer token to present cannot be read (its file is missing or empty).
    case tokenUnavailable(reason: String)

    public var description: String {
        switch self {
        case .invalidAddress(let address): "CA address '\(address)' is not HOST:PORT"
        case .unreachable(let address, let reason): "cannot connect to the CA at \(address): \(reason)"
        case .notTheCA(let address, let refusal): "the server at \(address) is not the mesh CA: \(refusal)"
        case .connectionFailed(let address, let reason): "the exchange with the CA at \(address) failed: \(reason)"
        case .timedOut(let address, let after): "the CA at \(address) did not answer within \(after)"
        case .badResponse(let address, let status, let detail): "the CA at \(address) answered \(status): \(detail)"
        case .tokenUnavailable(let reason): "no token to present to the CA: \(reason)"
        }
    }
}
