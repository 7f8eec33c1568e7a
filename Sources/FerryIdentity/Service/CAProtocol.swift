/// The CA service's one endpoint, `POST /v1/certificates`, as JSON.
public enum CAProtocol {
    public static let path = "/v1/certificates"
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

    public struct SigningResponse: Codable, Sendable, Hashable {
        /// PEM certificates, leaf first, then the root.
        public var certificateChain: [String]

        public init(certificateChain: [String]) { self.certificateChain = certificateChain }
    }

    public struct ErrorResponse: Codable, Sendable, Hashable {
        public var error: String
    }
}
