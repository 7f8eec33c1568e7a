import FerryMesh
import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import X509

/// The CA service over TLS. The agent trusts only the mesh root, talks only to a
/// server whose certificate names the CA (`spiffe://<td>/ferry/ca`), and proves
/// who it is with its node credential (mutual TLS) or with a bearer token.
public struct RemoteCertificateSource: CertificateSource {
    public enum Authentication: Sendable {
        /// The client certificate: `ferryctl ca issue-node`'s credential.
        case nodeCredential(NodeCredential)
        /// `Authorization: Bearer`, the token read anew for every request (the
        /// kubelet rotates projected tokens), and the root the CA must chain to.
        case bearer(root: MeshRoot, token: @Sendable () throws -> String)
    }

    public let address: String
    public let trustDomain: String
    public let timeout: Duration
    private let token: (@Sendable () throws -> String)?
    private let exchange: CAExchange

    /// `address` is "HOST:PORT" ("[::1]:15012" for IPv6 literals).
    public init(address: String, credential: NodeCredential, timeout: Duration = .seconds(10),
                group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton, logger: Logger) throws {
        try self.init(address: address, authentication: .nodeCredential(credential), timeout: timeout, group: group,
                      logger: logger)
    }

    public init(address: String, authentication: Authentication, timeout: Duration = .seconds(10),
                group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton, logger: Logger) throws {
        guard let (host, port) = CAProtocol.split(address: address) else { throw CertificateSourceError.invalidAddress(address) }
        let verifier: PeerVerifier
        switch authentication {
        case .nodeCredential(let credential):
            verifier = try PeerVerifier(node: credential, logger: logger)
            token = nil
        case .bearer(let root, let readToken):
            verifier = try PeerVerifier(root: root.certificate, trustDomain: root.trustDomain, logger: logger)
            token = readToken
        }
        self.address = address
        self.trustDomain = verifier.trustDomain
        self.timeout = timeout
        self.exchange = CAExchange(host: host, port: port, contexts: TLSContextSlot(try Self.context(authentication)),
                                   verifier: verifier, group: group)
    }

    /// The client TLS context for one way of authenticating.
    private static func context(_ authentication: Authentication) throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        switch authentication {
        case .nodeCredential(let credential):
            configuration.certificateChain = try credential.nioSSLCertificateChain().map { .certificate($0) }
            configuration.privateKey = .privateKey(try credential.privateKey.nioSSLPrivateKey)
            configuration.trustRoots = .certificates([try credential.root.nioSSLCertificate])
        case .bearer(let root, _):
            configuration.trustRoots = .certificates([try root.certificate.nioSSLCertificate])
        }
        // The CA is known by its URI SAN, which the verification callback checks.
        configuration.certificateVerification = .noHostnameVerification
        MeshTLS.restrictToMesh(&configuration, applicationProtocols: ["http/1.1"])
        return try NIOSSLContext(configuration: configuration)
    }

    /// Presents a renewed node credential from the next request on (agents
    /// that authenticate with their credential).
    public func present(_ credential: NodeCredential) throws {
        exchange.contexts.replace(with: try Self.context(.nodeCredential(credential)))
    }

    public func sign(csrPEM: String, identity: SpiffeID) async throws -> [Certificate] {
        try await requestChain(CAProtocol.path, CAProtocol.SigningRequest(csr: csrPEM, identity: identity.uri))
    }

    /// POSTs `request` and returns the chain answered. 401 and 403 are the CA's
    /// refusals (`SigningRefused`); anything else unexpected is a `badResponse`.
    func requestChain(_ path: String, _ request: some Encodable) async throws -> [Certificate] {
        let body = ByteBuffer(bytes: try JSONEncoder().encode(request))
        let authorization: String?
        do {
            authorization = try token.map { "Bearer \(try $0())" }
        } catch {
            throw CertificateSourceError.tokenUnavailable(reason: "\(error)")
        }
        let response = try await withThrowingTaskGroup(of: CAExchange.Response.self) { group in
            group.addTask { try await exchange.post(path: path, json: body, authorization: authorization) }
            group.addTask {
                try await Task.sleep(for: timeout)
                throw CertificateSourceError.timedOut(address: address, after: timeout)
            }
            defer { group.cancelAll() }
            return try await group.next()!
        }
        let text = String(buffer: response.body)
        switch response.status {
        case .ok:
            guard let decoded = try? JSONDecoder().decode(CAProtocol.SigningResponse.self, from: Data(text.utf8)) else {
                throw CertificateSourceError.badResponse(address: address, status: 200, detail: "body is not {\"certificateChain\": [PEM]}")
            }
            do {
                return try decoded.certificateChain.map { try Certificate(pemEncoded: $0) }
            } catch {
                throw CertificateSourceError.badResponse(address: address, status: 200, detail: "a certificate does not parse: \(error)")
            }
        case .forbidden, .unauthorized:
            let reason = (try? JSONDecoder().decode(CAProtocol.ErrorResponse.self, from: Data(text.utf8)))?.error ?? text
            throw SigningRefused(authority: "the CA at \(address)", reason: reason)
        default:
            let detail = (try? JSONDecoder().decode(CAProtocol.ErrorResponse.self, from: Data(text.utf8)))?.error ?? text
            throw CertificateSourceError.badResponse(address: address, status: Int(response.status.code), detail: detail)
        }
    }
}
