import Crypto
import Foundation
import NIOSSL
import X509

/// A node agent's own credential: what it presents to the CA (to ask for its
/// workloads' certificates) and as the HBONE server. The node's name and trust
/// domain are read from the certificate's URI SAN, so they cannot disagree with it.
///
/// On disk (`write`, `load`): `node.crt`, `node.key` (mode 0600) and `ca.crt`.
public struct NodeCredential: Sendable {
    public let certificate: Certificate
    public let privateKey: P256.Signing.PrivateKey
    /// The mesh root this credential chains to, and the one root its holder trusts.
    public let root: Certificate
    public let nodeName: String
    public let trustDomain: String

    public static let certificateFile = "node.crt"
    public static let keyFile = "node.key"
    public static let rootFile = "ca.crt"

    public init(certificate: Certificate, privateKey: P256.Signing.PrivateKey, root: Certificate) throws {
        guard case .node(let trustDomain, let name) = certificate.meshName else {
            let uris = (try? certificate.uriSANs) ?? []
            throw NodeCredentialError.notANodeCertificate(uris: uris)
        }
        guard certificate.publicKey == Certificate.PublicKey(privateKey.publicKey) else {
            throw NodeCredentialError.keyMismatch(node: name)
        }
        self.certificate = certificate
        self.privateKey = privateKey
        self.root = root
        self.nodeName = name
        self.trustDomain = trustDomain
    }

    public var uri: String { MeshName.node(trustDomain: trustDomain, name: nodeName).uri }

    public func write(to directory: String) throws {
        try CredentialFiles.createDirectory(directory)
        try CredentialFiles.write(privateKey.pemRepresentation, to: directory + "/" + Self.keyFile, mode: 0o600, overwrite: true)
        try CredentialFiles.write(certificate.pemString, to: directory + "/" + Self.certificateFile, mode: 0o644, overwrite: true)
        try CredentialFiles.write(root.pemString, to: directory + "/" + Self.rootFile, mode: 0o644, overwrite: true)
    }

    /// A renewed credential replacing this directory's, in an order a crash
    /// cannot break: the new key goes to `node.key.next`, then the certificate
    /// replaces `node.crt`, then the key replaces `node.key`. A crash between
    /// the last two leaves a new certificate and the old key, which `load`
    /// mends from `node.key.next`.
    public func replace(in directory: String) throws {
        let next = directory + "/" + Self.keyFile + Self.nextSuffix
        try CredentialFiles.write(privateKey.pemRepresentation, to: next, mode: 0o600, overwrite: true)
        try CredentialFiles.write(certificate.pemString, to: directory + "/" + Self.certificateFile, mode: 0o644, overwrite: true)
        guard rename(next, directory + "/" + Self.keyFile) == 0 else {
            throw CredentialFileError(path: next, problem: .unreadable(String(cString: strerror(errno))))
        }
    }

    static let nextSuffix = ".next"

    public static func load(directory: String) throws -> NodeCredential {
        let certificatePath = directory + "/" + certificateFile
        let certificate = try CredentialFiles.readCertificate(certificatePath)
        let keyPath = directory + "/" + keyFile
        let key = try CredentialFiles.readPrivateKey(keyPath)
        let root = try CredentialFiles.readCertificate(directory + "/" + rootFile)
        do {
            return try NodeCredential(certificate: certificate, privateKey: key, root: root)
        } catch NodeCredentialError.keyMismatch(let node) where FileManager.default.fileExists(atPath: keyPath + nextSuffix) {
            // A renewal stopped between the certificate and the key: finish it.
            let next = try CredentialFiles.readPrivateKey(keyPath + nextSuffix)
            guard let credential = try? NodeCredential(certificate: certificate, privateKey: next, root: root),
                  rename(keyPath + nextSuffix, keyPath) == 0
            else {
                throw CredentialFileError(path: certificatePath, problem: .invalid(NodeCredentialError.keyMismatch(node: node).description))
            }
            return credential
        } catch let error as NodeCredentialError {
            throw CredentialFileError(path: certificatePath, problem: .invalid(error.description))
        }
    }

    /// Leaf then root, ready for a NIOSSL configuration.
    public func nioSSLCertificateChain() throws -> [NIOSSLCertificate] {
        [try certificate.nioSSLCertificate, try root.nioSSLCertificate]
    }
}

public enum NodeCredentialError: Error, Hashable, Sendable, CustomStringConvertible {
    case notANodeCertificate(uris: [String])
    case keyMismatch(node: String)

    public var description: String {
        switch self {
        case .notANodeCertificate(let uris):
            "certificate is not a node credential (URI SANs: \(uris.isEmpty ? "none" : uris.joined(separator: ", ")); expected one spiffe://<td>/ferry/node/<name>)"
        case .keyMismatch(let node): "the private key does not belong to node \(node)'s certificate"
        }
    }
}
