import FerryMesh
import Foundation
import Logging
import NIOSSL
import Synchronization
import X509

/// Decides whether a presented certificate chain is a mesh peer, and which one.
///
/// The chain must verify against the mesh root alone (swift-certificates'
/// `Verifier` with `RFC5280Policy`, at the current time), and the leaf must carry
/// exactly one SPIFFE URI SAN in the mesh's trust domain naming a workload or a
/// node. Every refusal is logged with its reason and counted by reason.
public final class PeerVerifier: Sendable {
    public let root: Certificate
    public let trustDomain: String
    private let roots: CertificateStore
    private let nioRoot: NIOSSLCertificate
    private let logger: Logger
    private let refusals = Mutex<[String: Int]>([:])

    public init(root: Certificate, trustDomain: String, logger: Logger) throws {
        self.root = root
        self.trustDomain = trustDomain
        self.roots = CertificateStore([root])
        self.nioRoot = try root.nioSSLCertificate
        self.logger = logger
    }

    /// Trusts what the node credential trusts: its root and trust domain.
    public convenience init(node: NodeCredential, logger: Logger) throws {
        try self.init(root: node.root, trustDomain: node.trustDomain, logger: logger)
    }

    /// Verifies a chain (leaf first). With `expecting`, a valid peer that is
    /// someone else is refused too (`unexpectedIdentity`).
    public func verify(_ chain: [Certificate], expecting: PeerIdentity? = nil) async -> PeerVerification {
        let expected = expecting.map(meshName(of:))
        switch await verifiedName(chain, expecting: expected) {
        case .failure(let refusal):
            return .refused(refusal)
        case .success(let name):
            switch name {
            case .workload(let id): return .valid(.workload(id))
            case .node(_, let node): return .valid(.node(node))
            case .certificateAuthority:
                // The CA's serving certificate is never a data-path peer.
                return .refused(record(.unrecognizedIdentity(uri: name.uri), chain: chain))
            }
        }
    }

    public func verify(der chain: [[UInt8]], expecting: PeerIdentity? = nil) async -> PeerVerification {
        switch parse(der: chain) {
        case .success(let certificates): await verify(certificates, expecting: expecting)
        case .failure(let refusal): .refused(refusal)
        }
    }

    public func verify(_ chain: [NIOSSLCertificate], expecting: PeerIdentity? = nil) async -> PeerVerification {
        switch der(of: chain) {
        case .success(let der): await verify(der: der, expecting: expecting)
        case .failure(let refusal): .refused(refusal)
        }
    }

    /// Refusals so far, by `PeerRefusal.reason`.
    public func refusalCounts() -> [String: Int] { refusals.withLock { $0 } }

    /// The identity in an already verified leaf (after the handshake, say), without
    /// checking the chain again. Nil when the leaf names no workload or node.
    public static func identity(fromLeafDER der: [UInt8]) -> PeerIdentity? {
        guard let leaf = try? Certificate(derEncoded: der) else { return nil }
        switch leaf.meshName {
        case .workload(let id): return .workload(id)
        case .node(_, let name): return .node(name)
        case .certificateAuthority, nil: return nil
        }
    }

    // MARK: - Shared with the TLS helpers and the CA client

    /// The chain's one mesh name, after full verification; refusals are recorded.
    func verifiedName(_ chain: [Certificate], expecting: MeshName?) async -> Result<MeshName, PeerRefusal> {
        guard let leaf = chain.first else { return .failure(record(.noCertificate, chain: chain)) }
        var verifier = Verifier(rootCertificates: roots) { RFC5280Policy() }
        var diagnostics: [String] = []
        let result = await verifier.validate(leaf: leaf, intermediates: CertificateStore(chain.dropFirst())) {
            diagnostics.append($0.description)
        }
        if case .couldNotValidate(let failures) = result {
            return .failure(record(classify(leaf: leaf, failures: failures, diagnostics: diagnostics), chain: chain))
        }
        let name: MeshName
        switch meshName(in: leaf) {
        case .failure(let refusal): return .failure(record(refusal, chain: chain))
        case .success(let found): name = found
        }
        if let expecting, expecting != name {
            return .failure(record(.unexpectedIdentity(presented: name.uri, expected: expecting.uri), chain: chain))
        }
        return .success(name)
    }

    func parse(der chain: [[UInt8]]) -> Result<[Certificate], PeerRefusal> {
        do {
            return .success(try chain.map { try Certificate(derEncoded: $0) })
        } catch {
            return .failure(record(.other("the peer's certificate cannot be parsed: \(error)"), chain: []))
        }
    }

    func der(of chain: [NIOSSLCertificate]) -> Result<[[UInt8]], PeerRefusal> {
        do {
            return .success(try chain.map { try $0.toDERBytes() })
        } catch {
            return .failure(record(.other("the peer's certificate cannot be encoded: \(error)"), chain: []))
        }
    }

    /// For NIOSSL's `ValidatedCertificateChain`: the presented leaf, then our root.
    func validatedNIOChain(leaf: NIOSSLCertificate) -> [NIOSSLCertificate] { [leaf, nioRoot] }

    func meshName(of identity: PeerIdentity) -> MeshName {
        switch identity {
        case .workload(let id): .workload(id)
        case .node(let name): .node(trustDomain: trustDomain, name: name)
        }
    }

    // MARK: - Reasons

    private func classify(leaf: Certificate, failures: [CertificateValidationResult.PolicyFailure],
                          diagnostics: [String]) -> PeerRefusal {
        guard let failure = failures.first else {
            // No chain to the root could be built at all. If the root did sign the
            // leaf, something else about the leaf was refused (say, a critical
            // extension RFC5280Policy does not know).
            let signedByRoot = leaf.issuer == root.subject && root.publicKey.isValidSignature(leaf.signature, for: leaf)
            guard signedByRoot else { return .untrustedIssuer(issuer: leaf.issuer.description) }
            return .other("the peer's certificate was refused: \(diagnostics.last ?? "no chain to the mesh root")")
        }
        let now = Date()
        for certificate in failure.chain {
            if certificate.notValidAfter < now { return .expired(notAfter: certificate.notValidAfter) }
            if certificate.notValidBefore > now { return .notYetValid(notBefore: certificate.notValidBefore) }
        }
        return .other("the peer's certificate chain was refused: \(failure.policyFailureReason)")
    }

    private func meshName(in leaf: Certificate) -> Result<MeshName, PeerRefusal> {
        guard let uris = try? leaf.uriSANs else { return .failure(.other("the peer's SAN extension cannot be read")) }
        guard uris.count == 1, let spiffe = SpiffeURI(uris[0]) else { return .failure(.notASpiffeID(uris: uris)) }
        guard spiffe.trustDomain == trustDomain else {
            return .failure(.wrongTrustDomain(presented: spiffe.trustDomain, expected: trustDomain))
        }
        guard let name = MeshName(uri: uris[0]) else { return .failure(.unrecognizedIdentity(uri: uris[0])) }
        return .success(name)
    }

    /// A peer that sent no certificate at all is refused by BoringSSL before any
    /// callback runs; the TLS layer reports it here so it is counted and logged
    /// like every other refusal.
    public func recordMissingCertificate(peer: String) {
        refusals.withLock { $0[PeerRefusal.noCertificate.reason, default: 0] += 1 }
        logger.warning("peer certificate refused: \(PeerRefusal.noCertificate)",
                       metadata: ["ferry.peer.refusal": "\(PeerRefusal.noCertificate.reason)", "ferry.peer": "\(peer)"])
    }

    private func record(_ refusal: PeerRefusal, chain: [Certificate]) -> PeerRefusal {
        refusals.withLock { $0[refusal.reason, default: 0] += 1 }
        var metadata: Logger.Metadata = ["ferry.peer.refusal": "\(refusal.reason)"]
        if let leaf = chain.first {
            metadata["ferry.peer.subject"] = "\(leaf.subject)"
            metadata["ferry.peer.serial"] = "\(leaf.serialHex)"
            if let uris = try? leaf.uriSANs, !uris.isEmpty { metadata["ferry.peer.uri"] = "\(uris.joined(separator: ","))" }
        }
        logger.warning("peer certificate refused: \(refusal)", metadata: metadata)
        return refusal
    }
}
