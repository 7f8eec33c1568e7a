import Crypto
import FerryMesh
import Foundation
import X509

/// The mesh's root of trust: a self-signed ECDSA P-256 root and its key, for one
/// trust domain. It signs node credentials (`ferryctl ca issue-node`) and workload
/// certificates (the CA service, or an agent's embedded CA).
///
/// On disk (`initialize`, `load`): `ca.crt` (PEM), `ca.key` (PEM, mode 0600) and
/// `trust-domain` (text).
public struct CertificateAuthority: Sendable {
    public let root: Certificate
    public let trustDomain: String
    let key: P256.Signing.PrivateKey

    public static let certificateFile = "ca.crt"
    public static let keyFile = "ca.key"
    public static let trustDomainFile = "trust-domain"
    public static let rootValidity: Duration = .seconds(10 * 365 * 24 * 3600)

    init(root: Certificate, key: P256.Signing.PrivateKey, trustDomain: String) {
        self.root = root
        self.key = key
        self.trustDomain = trustDomain
    }

    /// A new root, in memory only (tests, and a throwaway embedded CA).
    public static func generate(trustDomain: String) throws -> CertificateAuthority {
        guard MeshName.isValidTrustDomain(trustDomain) else { throw IssuanceError.invalidTrustDomain(trustDomain) }
        let key = P256.Signing.PrivateKey()
        let root = try CertificateProfiles.root(key: key, trustDomain: trustDomain, validity: rootValidity.seconds)
        return CertificateAuthority(root: root, key: key, trustDomain: trustDomain)
    }

    /// Creates a new root in `directory` (created if needed). Refuses to replace an
    /// existing CA: every credential in the mesh chains to it.
    public static func initialize(directory: String, trustDomain: String) throws -> CertificateAuthority {
        let paths = Paths(directory)
        for path in [paths.certificate, paths.key, paths.trustDomain] where FileManager.default.fileExists(atPath: path) {
            throw CredentialFileError(path: path, problem: .exists)
        }
        let authority = try generate(trustDomain: trustDomain)
        try CredentialFiles.createDirectory(directory)
        // The key first: if anything later fails, no certificate points at a lost key.
        try CredentialFiles.write(authority.key.pemRepresentation, to: paths.key, mode: 0o600, overwrite: false)
        try CredentialFiles.write(authority.root.pemString, to: paths.certificate, mode: 0o644, overwrite: false)
        try CredentialFiles.write(trustDomain + "\n", to: paths.trustDomain, mode: 0o644, overwrite: false)
        return authority
    }

    public static func load(directory: String) throws -> CertificateAuthority {
        let paths = Paths(directory)
        let root = try CredentialFiles.readCertificate(paths.certificate)
        let key = try CredentialFiles.readPrivateKey(paths.key)
        let trustDomain = try CredentialFiles.read(paths.trustDomain).trimmingCharacters(in: .whitespacesAndNewlines)
        guard MeshName.isValidTrustDomain(trustDomain) else {
            throw CredentialFileError(path: paths.trustDomain, problem: .invalid("'\(trustDomain)' is not a valid trust domain"))
        }
        guard case .isCertificateAuthority = try root.extensions.basicConstraints else {
            throw CredentialFileError(path: paths.certificate, problem: .invalid("not a CA certificate (no basicConstraints CA:true)"))
        }
        guard root.publicKey == Certificate.PublicKey(key.publicKey) else {
            throw CredentialFileError(path: paths.key, problem: .invalid("does not belong to the certificate in \(paths.certificate)"))
        }
        return CertificateAuthority(root: root, key: key, trustDomain: trustDomain)
    }

    /// A credential for a node agent: URI SAN `spiffe://<td>/ferry/node/<node>`.
    public func issueNodeCredential(node: String, validity: Duration = .seconds(365 * 24 * 3600)) throws -> NodeCredential {
        guard MeshName.isValidNodeName(node) else { throw IssuanceError.invalidNodeName(node) }
        let nodeKey = P256.Signing.PrivateKey()
        let certificate = try issue(publicKey: Certificate.PublicKey(nodeKey.publicKey),
                                    name: .node(trustDomain: trustDomain, name: node), validity: validity)
        return try NodeCredential(certificate: certificate, privateKey: nodeKey, root: root)
    }

    /// Signs a leaf for `name` with this root; the one place leaves are made.
    func issue(publicKey: Certificate.PublicKey, name: MeshName, validity: Duration) throws -> Certificate {
        guard validity > .zero else { throw IssuanceError.invalidValidity(validity) }
        guard name.trustDomain == trustDomain else {
            throw IssuanceError.foreignTrustDomain(identity: name.uri, caTrustDomain: trustDomain)
        }
        return try CertificateProfiles.leaf(publicKey: publicKey, name: name, validity: validity.seconds,
                                            issuer: root, issuerKey: key)
    }

    struct Paths {
        var certificate: String
        var key: String
        var trustDomain: String

        init(_ directory: String) {
            certificate = directory + "/" + CertificateAuthority.certificateFile
            key = directory + "/" + CertificateAuthority.keyFile
            trustDomain = directory + "/" + CertificateAuthority.trustDomainFile
        }
    }
}
