import FerryIdentity
import Logging

/// An agent with a token and no credential gets its node credential from the
/// CA before it can serve HBONE. The CA may not be up yet (the cluster is
/// starting, the CA is rolling), so unreachable, timed-out and 5xx answers,
/// and a token file not written yet, are retried with backoff; anything else
/// (401/403: wrong token or account; 4xx; a server that is not the CA) ends
/// the agent with the reason, since retrying cannot fix it.
struct NodeCredentialBootstrap {
    let source: RemoteCertificateSource
    let node: String
    var schedule = RenewalSchedule(retryInitial: .seconds(1), retryMaximum: .seconds(30))
    let logger: Logger

    func fetch() async throws -> NodeCredential {
        var failures = 0
        while true {
            do {
                let credential = try await source.nodeCredential(for: node)
                logger.info("node credential issued by the CA", metadata: [
                    "ferry.ca": "\(source.address)", "ferry.serial": "\(credential.certificate.serialHex)",
                    "ferry.not_after": "\(credential.certificate.notValidAfter.ISO8601Format())",
                ])
                return credential
            } catch where !Self.isTransient(error) {
                throw error
            } catch {
                failures += 1
                let delay = schedule.retryDelay(failures: failures)
                logger.warning("cannot get the node credential yet: \(error)", metadata: [
                    "ferry.ca": "\(source.address)", "ferry.failures": "\(failures)", "ferry.retry_in": "\(delay)",
                ])
                try await Task.sleep(for: delay)
            }
        }
    }

    static func isTransient(_ error: Error) -> Bool {
        switch error as? CertificateSourceError {
        case .unreachable, .timedOut, .connectionFailed, .tokenUnavailable: true
        case .badResponse(_, let status, _): status >= 500
        case .invalidAddress, .notTheCA, nil: false
        }
    }
}
