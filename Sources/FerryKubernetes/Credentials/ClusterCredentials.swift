/// How to reach one API server and prove who we are to it.
public struct ClusterCredentials: Sendable {
    public enum Trust: Sendable, Hashable {
        /// The system's roots.
        case system
        /// A PEM bundle (the cluster CA).
        case pem([UInt8])
        /// kubeconfig `insecure-skip-tls-verify: true`: development only.
        case insecureSkipVerify
    }

    public struct ClientCertificate: Sendable, Hashable {
        public var certificatePEM: [UInt8]
        public var keyPEM: [UInt8]

        public init(certificatePEM: [UInt8], keyPEM: [UInt8]) {
            self.certificatePEM = certificatePEM
            self.keyPEM = keyPEM
        }
    }

    /// Base URL, e.g. "https://10.96.0.1:443" (a path prefix is kept).
    public var server: String
    public var trust: Trust
    public var clientCertificate: ClientCertificate?
    public var token: BearerToken?
    /// Where these came from, for messages: "in-cluster service account",
    /// "kubeconfig /root/.kube/config (context kind-ferry)".
    public var origin: String

    public init(server: String, trust: Trust = .system, clientCertificate: ClientCertificate? = nil,
                token: BearerToken? = nil, origin: String) {
        self.server = server.hasSuffix("/") ? String(server.dropLast()) : server
        self.trust = trust
        self.clientCertificate = clientCertificate
        self.token = token
        self.origin = origin
    }
}

/// Credentials that cannot be used, with the file, variable or field at fault.
public struct CredentialError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The file or environment variable.
    public var source: String
    public var message: String

    public init(_ source: String, _ message: String) {
        self.source = source
        self.message = message
    }

    public var description: String { "\(source): \(message)" }
}
