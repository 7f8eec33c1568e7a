import FerryHTTP
import FerryMesh
import Foundation
import Logging
import NIOHTTP1

/// Answers `POST /v1/certificates` for the CA service.
///
/// The caller's node name comes only from its verified client certificate; the
/// request body cannot claim one. Every refusal is answered with the reason and
/// logged with it.
struct CARequestHandler: Sendable {
    let authority: CertificateAuthority
    let verifier: PeerVerifier
    let state: @Sendable () -> MeshState
    let logger: Logger

    func handle(_ request: HTTPRequest) async -> HTTPResponse {
        guard request.path == CAProtocol.path else { return .error(.notFound, "only \(CAProtocol.path) here") }
        guard request.method == .POST else { return .error(.methodNotAllowed, "\(CAProtocol.path) takes POST") }

        var logger = logger
        if let remote = request.remoteAddress { logger[metadataKey: "ferry.peer.address"] = "\(remote)" }
        guard let der = request.peerCertificateDER else {
            return refuse(.forbidden, "no client certificate: present a node credential", logger: logger)
        }
        let node: String
        switch await verifier.verify(der: [der]) {
        case .refused(let refusal):
            return refuse(.forbidden, "client certificate refused: \(refusal)", logger: logger)
        case .valid(.workload(let id)):
            return refuse(.forbidden, "client certificate is workload \(id); the CA signs only for node credentials",
                          logger: logger)
        case .valid(.node(let name)):
            node = name
        }
        logger[metadataKey: "ferry.node"] = "\(node)"

        let body: CAProtocol.SigningRequest
        do {
            body = try JSONDecoder().decode(CAProtocol.SigningRequest.self, from: Data(request.bodyBytes))
        } catch {
            return refuse(.badRequest, "body is not {\"csr\": PEM, \"identity\": URI}: \(error)", logger: logger)
        }
        logger[metadataKey: "ferry.identity"] = "\(body.identity)"
        guard let identity = SpiffeID(body.identity) else {
            return refuse(.badRequest, "identity '\(body.identity)' is not spiffe://<td>/ns/<ns>/sa/<sa>", logger: logger)
        }

        let state = state()
        if case .refuse(let reason) = SigningPolicy.decide(node: node, identity: identity, state: state) {
            return refuse(.forbidden, reason, logger: logger)
        }
        do {
            let chain = try authority.signWorkload(csrPEM: body.csr, identity: identity,
                                                   ttl: state.config.workloadCertificateTTL)
            logger.info("signed workload certificate", metadata: [
                "ferry.serial": "\(chain[0].serialHex)",
                "ferry.not_after": "\(chain[0].notValidAfter.ISO8601Format())",
            ])
            return .json(CAProtocol.SigningResponse(certificateChain: try chain.map { try $0.pemString }))
        } catch let error as IssuanceError {
            return refuse(.badRequest, error.description, logger: logger)
        } catch {
            logger.error("signing failed: \(error)")
            return .error(.internalServerError, "signing failed: \(error)")
        }
    }

    private func refuse(_ status: HTTPResponseStatus, _ reason: String, logger: Logger) -> HTTPResponse {
        logger.warning("certificate request refused: \(reason)", metadata: ["ferry.refusal": "\(reason)"])
        return .error(status, reason)
    }
}
