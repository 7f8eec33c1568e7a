import Crypto
import FerryHTTP
import FerryMesh
import Logging
import NIOCore
import NIOSSL
import ServiceLifecycle
import X509

/// The CA service (`ferryd ca`, :15012): signs workload certificates for node
/// agents, and node credentials for agents that authenticate with a token.
///
/// It presents a serving certificate made at start-up from the root, with URI
/// SAN `spiffe://<td>/ferry/ca` (clients check that URI, not a host name), and
/// accepts only client certificates chained to the root; the request handler
/// then insists on a node credential. With a `BearerAuthenticator`, a client
/// certificate becomes optional at the TLS layer and a caller without one must
/// present `Authorization: Bearer <token>` instead. The mesh state is read
/// through `state`, so the caller decides where it comes from.
public final class CAServer: Service, Sendable {
    public let authority: CertificateAuthority
    /// The serving certificate, then the root.
    public let servingChain: [Certificate]
    /// Counts and logs refused client certificates.
    public let verifier: PeerVerifier
    private let http: HTTPServer

    /// Long enough to outlive any process; a restart makes a new one.
    public static let servingValidity: Duration = .seconds(365 * 24 * 3600)

    public init(authority: CertificateAuthority, state: @escaping @Sendable () -> MeshState,
                bearer: (any BearerAuthenticator)? = nil, revocations: NodeRevocationList = NodeRevocationList(directory: nil),
                host: String = "::", port: Int = CAProtocol.defaultPort, group: EventLoopGroup, logger: Logger) throws {
        let key = P256.Signing.PrivateKey()
        let serving = try authority.issue(publicKey: Certificate.PublicKey(key.publicKey),
                                          name: .certificateAuthority(trustDomain: authority.trustDomain),
                                          validity: Self.servingValidity)
        var configuration = TLSConfiguration.makeServerConfigurationWithMTLS(
            certificateChain: [.certificate(try serving.nioSSLCertificate), .certificate(try authority.root.nioSSLCertificate)],
            privateKey: .privateKey(try key.nioSSLPrivateKey),
            trustRoots: .certificates([try authority.root.nioSSLCertificate])
        )
        if bearer != nil {
            // A presented certificate must still chain to the root; the handler
            // then requires a node credential or a token.
            configuration.certificateVerification = .optionalVerification
        }
        MeshTLS.restrictToMesh(&configuration, applicationProtocols: ["http/1.1"])
        let verifier = try PeerVerifier(root: authority.root, trustDomain: authority.trustDomain, logger: logger)
        let handler = CARequestHandler(authority: authority, authentication: CACallerAuthentication(verifier: verifier, bearer: bearer, revocations: revocations),
                                       state: state, logger: logger)
        self.authority = authority
        self.servingChain = [serving, authority.root]
        self.verifier = verifier
        self.http = HTTPServer(host: host, port: port, group: group, tls: try NIOSSLContext(configuration: configuration),
                               maxBodySize: 64 << 10, logger: logger) { request in await handler.handle(request) }
    }

    /// Binds; returns the real port (useful with port 0).
    @discardableResult
    public func start() async throws -> Int { try await http.start() }

    public func run() async throws { try await http.run() }
}
