import NIOSSL

extension ClusterCredentials {
    /// The client TLS configuration these credentials call for.
    func tlsConfiguration() throws -> TLSConfiguration {
        var tls = TLSConfiguration.makeClientConfiguration()
        switch trust {
        case .system:
            break
        case .pem(let bundle):
            do {
                tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(bundle))
            } catch {
                throw CredentialError(origin, "cluster CA bundle is not PEM certificates: \(error)")
            }
        case .insecureSkipVerify:
            tls.certificateVerification = .none
        }
        if let client = clientCertificate {
            do {
                tls.certificateChain = try NIOSSLCertificate.fromPEMBytes(client.certificatePEM).map { .certificate($0) }
                tls.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: client.keyPEM, format: .pem))
            } catch {
                throw CredentialError(origin, "client certificate or key is not PEM: \(error)")
            }
        }
        return tls
    }
}
