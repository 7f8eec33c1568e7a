/// The CA service's endpoints, as JSON:
/// - `POST /v1/certificates`: a workload certificate for a workload on the
///   caller's node (node credential or bearer token);
/// - `POST /v1/node-credential`: the caller's own node credential (bearer token
///   only: agents with a credential on disk already have one).
public enum CAProtocol {
    public static let path = "/v1/certificates"
    public static let nodeCredentialPath = "/v1/node-credential"
    public static let defaultPort = 15012

    public struct SigningRequest: Codable, Sendable, Hashable {
        /// PEM "CERTIFICATE REQUEST".
        public var csr: String
        /// The SPIFFE URI asked for.
        public var identity: String

        public init(csr: String, identity: String) {
            self.csr = csr
            self.identity = identity
        }
    }

    public struct NodeCredentialRequest: Codable, Sendable, Hashable {
        /// PEM "CERTIFICATE REQUEST" for `spiffe://<td>/ferry/node/<the caller's node>`.
        public var csr: String

        public init(csr: String) { self.csr = csr }
    }

    public struct SigningResponse: Codable, Sendable, Hashable {
        /// PEM certificates, leaf first, then the root.
        public var certificateChain: [String]

        public init(certificateChain: [String]) { self.certificateChain = certificateChain }
    }

    public struct ErrorResponse: Codable, Sendable, Hashable {
        public var error: String
    }

    /// "HOST:PORT" or "[IPv6]:PORT", split; nil when it is neither.
    public static func split(address: String) -> (host: String, port: Int)? {
        let host: Substring
        let portText: Substring
        if address.hasPrefix("[") {
            guard let close = address.firstIndex(of: "]") else { return nil }
            host = address[address.index(after: address.startIndex)..<close]
            let rest = address[address.index(after: close)...]
            guard rest.hasPrefix(":") else { return nil }
            portText = rest.dropFirst()
        } else {
            guard let colon = address.lastIndex(of: ":") else { return nil }
            host = address[..<colon]
            portText = address[address.index(after: colon)...]
            if host.contains(":") { return nil }
        }
        guard !host.isEmpty, let port = Int(portText), (0...65535).contains(port) else { return nil }
        return (String(host), port)
    }
}
