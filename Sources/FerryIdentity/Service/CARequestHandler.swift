import FerryHTTP
import FerryMesh
import Foundation
import Logging
import NIOHTTP1
import X509

/// Answers the CA service's requests: `POST /v1/certificates` (a workload
/// certificate) and `POST /v1/node-credential` (the caller's node credential).
///
/// The caller's node comes only from its verified client certificate or its
/// bearer token (`CACallerAuthentication`); the request body cannot claim one.
/// Every refusal is answered with the reason and logged with it.
struct CARequestHandler: Sendable {
    let authority: CertificateAuthority
    let authentication: CACallerAuthentication
    let state: @Sendable () -> MeshState
    let logger: Logger

    func handle(_ request: HTTPRequest) async -> HTTPResponse {
        let path = request.path
        guard path == CAProtocol.path || path == CAProtocol.nodeCredentialPath else {
            return .error(.notFound, "only \(CAProtocol.path) and \(CAProtocol.nodeCredentialPath) here")
        }
        guard request.method == .POST else { return .error(.methodNotAllowed, "\(path) takes POST") }

        var logger = logger
        if let remote = request.remoteAddress { logger[metadataKey: "ferry.peer.address"] = "\(remote)" }
        let caller: CACaller
        switch await authentication.authenticate(request) {
        case .failure(let refusal): return refuse(refusal, logger: logger)
        case .success(let authenticated): caller = authenticated
        }
        logger[metadataKey: "ferry.node"] = "\(caller.node)"
        logger[metadataKey: "ferry.caller"] = "\(caller)"

        if path == CAProtocol.nodeCredentialPath {
            return signNodeCredential(request, caller: caller, logger: logger)
        }
        return signWorkload(request, caller: caller, logger: logger)
    }

    private func signWorkload(_ request: HTTPRequest, caller: CACaller, logger: Logger) -> HTTPResponse {
        var logger = logger
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
        if case .refuse(let reason) = SigningPolicy.decide(node: caller.node, identity: identity, state: state) {
            return refuse(.forbidden, reason, logger: logger)
        }
        do {
            let chain = try authority.signWorkload(csrPEM: body.csr, identity: identity,
                                                   ttl: state.config.workloadCertificateTTL)
            return signed(chain, what: "workload certificate", logger: logger)
        } catch let error as IssuanceError {
            return refuse(.badRequest, error.description, logger: logger)
        } catch {
            return failed(error, logger: logger)
        }
    }

    /// A node credential for the caller's own node only: a token caller's
    /// first one, or the renewal of a valid (unexpired, unrevoked) node
    /// credential. They last as long as workload certificates (MeshConfig
    /// `workloadCertificateTTL`) and are renewed the same way, at half-life,
    /// so a stolen credential or token stops working soon after it is revoked.
    private func signNodeCredential(_ request: HTTPRequest, caller: CACaller, logger: Logger) -> HTTPResponse {
        let body: CAProtocol.NodeCredentialRequest
        do {
            body = try JSONDecoder().decode(CAProtocol.NodeCredentialRequest.self, from: Data(request.bodyBytes))
        } catch {
            return refuse(.badRequest, "body is not {\"csr\": PEM}: \(error)", logger: logger)
        }
        do {
            let chain = try authority.signNode(csrPEM: body.csr, node: caller.node, ttl: state().config.workloadCertificateTTL)
            return signed(chain, what: "node credential", logger: logger)
        } catch IssuanceError.csrNamesMismatch(let requested, let own) {
            let asked = requested.isEmpty ? "no URI" : requested.joined(separator: ", ")
            return refuse(.forbidden, "node \(caller.node) may have only its own node credential (\(own)); the CSR requests \(asked)",
                          logger: logger)
        } catch let error as IssuanceError {
            return refuse(.badRequest, error.description, logger: logger)
        } catch {
            return failed(error, logger: logger)
        }
    }

    private func signed(_ chain: [Certificate], what: String, logger: Logger) -> HTTPResponse {
        do {
            let response = CAProtocol.SigningResponse(certificateChain: try chain.map { try $0.pemString })
            logger.info("signed \(what)", metadata: [
                "ferry.serial": "\(chain[0].serialHex)",
                "ferry.not_after": "\(chain[0].notValidAfter.ISO8601Format())",
            ])
            return .json(response)
        } catch {
            return failed(error, logger: logger)
        }
    }

    private func failed(_ error: Error, logger: Logger) -> HTTPResponse {
        logger.error("signing failed: \(error)")
        return .error(.internalServerError, "signing failed: \(error)")
    }

    private func refuse(_ status: HTTPResponseStatus, _ reason: String, logger: Logger) -> HTTPResponse {
        refuse(CARefusal(status, reason), logger: logger)
    }

    private func refuse(_ refusal: CARefusal, logger: Logger) -> HTTPResponse {
        logger.warning("certificate request refused: \(refusal.reason)", metadata: ["ferry.refusal": "\(refusal.reason)"])
        var response = HTTPResponse.error(refusal.status, refusal.reason)
        if refusal.status == .unauthorized { response.headers.add(name: "www-authenticate", value: "Bearer") }
        return response
    }
}
