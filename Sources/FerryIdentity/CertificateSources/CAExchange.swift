import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization

/// One HTTP/1.1 request over a fresh mutual-TLS connection to the CA, whose
/// certificate must name the CA (`spiffe://<td>/ferry/ca`).
///
/// Plain SwiftNIO rather than AsyncHTTPClient: AsyncHTTPClient offers no hook to
/// see or verify the server's certificate beyond host-name checks, and the CA is
/// known by its URI SAN. Signing is rare (per identity, every half TTL), so a
/// connection per request costs nothing worth pooling.
struct CAExchange: Sendable {
    let host: String
    let port: Int
    /// What this client presents; a renewed node credential replaces it.
    let contexts: TLSContextSlot
    let verifier: PeerVerifier
    let group: EventLoopGroup

    var address: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    struct Response: Sendable {
        var status: HTTPResponseStatus
        var body: ByteBuffer
    }

    /// `authorization`: the Authorization header's value ("Bearer <token>"), for
    /// agents without a node credential.
    func post(path: String, json body: ByteBuffer, authorization: String? = nil) async throws -> Response {
        let serverRefusal = RefusalBox()
        let channel: NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>
        do {
            channel = try await ClientBootstrap(group: group)
                .connectTimeout(.seconds(5))
                .connect(host: host, port: port) { [context = contexts.current, verifier] channel in
                    channel.eventLoop.makeCompletedFuture {
                        let tls = try NIOSSLClientHandler(
                            context: context, serverHostname: nil,
                            customVerificationCallbackWithMetadata: Self.caVerification(verifier, recordingInto: serverRefusal)
                        )
                        try channel.pipeline.syncOperations.addHandler(tls)
                        try channel.pipeline.syncOperations.addHTTPClientHandlers()
                        return try NIOAsyncChannel(wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            throw CertificateSourceError.unreachable(address: address, reason: Self.connectFailure(error))
        }
        do {
            return try await channel.executeThenClose { inbound, outbound in
                var headers = HTTPHeaders()
                headers.add(name: "host", value: address)
                headers.add(name: "content-type", value: "application/json")
                if let authorization { headers.add(name: "authorization", value: authorization) }
                headers.add(name: "content-length", value: "\(body.readableBytes)")
                headers.add(name: "connection", value: "close")
                try await outbound.write(.head(HTTPRequestHead(version: .http1_1, method: .POST, uri: path, headers: headers)))
                try await outbound.write(.body(.byteBuffer(body)))
                try await outbound.write(.end(nil))

                var status: HTTPResponseStatus?
                var received = ByteBuffer()
                for try await part in inbound {
                    switch part {
                    case .head(let head): status = head.status
                    case .body(var chunk): received.writeBuffer(&chunk)
                    case .end: if let status { return Response(status: status, body: received) }
                    }
                }
                throw CertificateSourceError.connectionFailed(address: address, reason: "the connection closed before a whole response")
            }
        } catch let error as CertificateSourceError {
            throw error
        } catch {
            if let refusal = serverRefusal.value.withLock({ $0 }) {
                throw CertificateSourceError.notTheCA(address: address, refusal: refusal)
            }
            throw CertificateSourceError.connectionFailed(address: address, reason: "\(error)")
        }
    }

    /// Accepts only the CA's serving certificate; keeps the refusal so the error
    /// can say why, instead of NIOSSL's bare "handshake failed".
    private static func caVerification(_ verifier: PeerVerifier,
                                        recordingInto box: RefusalBox) -> NIOSSLCustomVerificationCallbackWithMetadata {
        { certificates, promise in
            promise.completeWithTask {
                let result: Result<MeshName, PeerRefusal>
                switch verifier.der(of: certificates).flatMap(verifier.parse(der:)) {
                case .failure(let refusal): result = .failure(refusal)
                case .success(let chain):
                    result = await verifier.verifiedName(chain, expecting: .certificateAuthority(trustDomain: verifier.trustDomain))
                }
                switch result {
                case .success:
                    return .certificateVerified(VerificationMetadata(
                        ValidatedCertificateChain(verifier.validatedNIOChain(leaf: certificates[0]))))
                case .failure(let refusal):
                    box.value.withLock { $0 = refusal }
                    return .failed
                }
            }
        }
    }

    /// "connection refused" rather than NIO's whole attempt log.
    static func connectFailure(_ error: Error) -> String {
        guard let connection = error as? NIOConnectionError else { return "\(error)" }
        if let dns = connection.dnsAError ?? connection.dnsAAAAError { return "cannot resolve \(connection.host): \(dns)" }
        guard let first = connection.connectionErrors.first else { return "\(error)" }
        if let io = first.error as? IOError { return String(cString: strerror(io.errnoCode)).lowercased() }
        return "\(first.error)"
    }
}

/// Carries the verification callback's refusal out of the handshake.
private final class RefusalBox: Sendable {
    let value = Mutex<PeerRefusal?>(nil)
}

/// A TLS context that can be replaced while requests use the old one.
final class TLSContextSlot: Sendable {
    private let slot: Mutex<NIOSSLContext>

    init(_ context: NIOSSLContext) {
        slot = Mutex(context)
    }

    var current: NIOSSLContext { slot.withLock { $0 } }

    func replace(with context: NIOSSLContext) {
        slot.withLock { $0 = context }
    }
}
