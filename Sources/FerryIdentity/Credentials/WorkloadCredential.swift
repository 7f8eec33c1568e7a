import Crypto
import FerryMesh
import Foundation
import NIOSSL
import X509

/// One workload certificate with its key, as the data path uses it. The NIOSSL
/// forms are made once here, not per connection.
public struct WorkloadCredential: Sendable {
    public let identity: SpiffeID
    /// Leaf first, then the root.
    public let chain: [Certificate]
    public let privateKey: P256.Signing.PrivateKey
    public let nioSSLCertificateChain: [NIOSSLCertificate]
    public let nioSSLPrivateKey: NIOSSLPrivateKey
    /// When this node received it; renewal is timed from here, not from
    /// `notBefore`, which is backdated for clock skew.
    public let receivedAt: Date

    public var leaf: Certificate { chain[0] }
    public var notBefore: Date { leaf.notValidBefore }
    public var notAfter: Date { leaf.notValidAfter }
    public var serial: String { leaf.serialHex }

    /// Checks that the chain is what was asked for: a leaf for this key whose one
    /// URI SAN is the identity. (Whether it chains to the root is the peers' check.)
    public init(identity: SpiffeID, chain: [Certificate], privateKey: P256.Signing.PrivateKey,
                receivedAt: Date = Date()) throws {
        guard let leaf = chain.first else { throw WorkloadCredentialError.emptyChain(identity: identity.uri) }
        guard leaf.publicKey == Certificate.PublicKey(privateKey.publicKey) else {
            throw WorkloadCredentialError.wrongKey(identity: identity.uri)
        }
        let uris = (try? leaf.uriSANs) ?? []
        guard uris == [identity.uri] else { throw WorkloadCredentialError.wrongIdentity(expected: identity.uri, uris: uris) }
        self.identity = identity
        self.chain = chain
        self.privateKey = privateKey
        self.nioSSLCertificateChain = try chain.map { try $0.nioSSLCertificate }
        self.nioSSLPrivateKey = try privateKey.nioSSLPrivateKey
        self.receivedAt = receivedAt
    }

    /// Half way through the validity it had when it arrived.
    public var renewAt: Date {
        receivedAt + max(0, notAfter.timeIntervalSince(receivedAt)) / 2
    }
}

public enum WorkloadCredentialError: Error, Hashable, Sendable, CustomStringConvertible {
    case emptyChain(identity: String)
    case wrongKey(identity: String)
    case wrongIdentity(expected: String, uris: [String])

    public var description: String {
        switch self {
        case .emptyChain(let identity): "the CA returned no certificate for \(identity)"
        case .wrongKey(let identity): "the CA returned a certificate for \(identity) with another public key than the CSR's"
        case .wrongIdentity(let expected, let uris):
            "the CA returned a certificate for \(uris.isEmpty ? "no URI" : uris.joined(separator: ", ")), not \(expected)"
        }
    }
}
