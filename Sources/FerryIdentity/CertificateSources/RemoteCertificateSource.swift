import FerryMesh
import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import X509

/// The CA service over mutual TLS: this node presents its node credential, trusts
/// only the mesh root, and talks only to a server whose certificate names the CA
/// (`spiffe://<td>/ferry/ca`).
public struct RemoteCertificateSource: CertificateSource {
    public let address: String
    public let credential: NodeCredential
    public let timeout: Duration
    private let exchange: CAExchange

    /// `address` is "HOST:PORT" ("[::1]:15012" for IPv6 literals).
    public init(address: String, credential: NodeCredential, timeout: Duration = .seconds(10),
                group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton, logger: Logger) throws {
        guard let (host, port) = CAProtocol.split(address: address) else { throw CertificateSourceError.invalidAddress(address) }
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.certificateChain = try credential.nioSSLCertificateChain().map { .certificate($0) }
        configuration.privateKey = .privateKey(try credential.privateKey.nioSSLPrivateKey)
        configuration.trustRoots = .certificates([try credential.root.nioSSLCertificate])
        // The CA is known by its URI SAN, which the verification callback checks.
        configuration.certificateVerification = .noHostnameVerification
        MeshTLS.restrictToMesh(&configuration, applicationProtocols: ["http/1.1"])
        self.address = address
        self.credential = credential
        self.timeout = timeout
        self.exchange = CAExchange(
            host: host, port: port, context: try NIOSSLContext(configuration: configuration),
            verifier: try PeerVerifier(node: credential, logger: logger), group: group
        )
    }

    public func sign(csrPEM: String, identity: SpiffeID) async throws -> [Certificate] {
        let request = CAProtocol.SigningRequest(csr: csrPEM, identity: identity.uri)
        let body = ByteBuffer(bytes: try JSONEncoder().encode(request))
        let response = try await withThrowingTaskGroup(of: CAExchange.Response.self) { group in
            group.addTask { try await exchange.post(path: CAProtocol.path, json: body) }
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
        case .forbidden:
            let reason = (try? JSONDecoder().decode(CAProtocol.ErrorResponse.self, from: Data(text.utf8)))?.error ?? text
            throw SigningRefused(authority: "the CA at \(address)", reason: reason)
        default:
            let detail = (try? JSONDecoder().decode(CAProtocol.ErrorResponse.self, from: Data(text.utf8)))?.error ?? text
            throw CertificateSourceError.badResponse(address: address, status: Int(response.status.code), detail: detail)
        }
    }
}
