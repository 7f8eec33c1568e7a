import Crypto
import FerryMesh
import Foundation
import NIOCore
import NIOPosix
import X509

@testable import FerryIdentity

/// Certificates and mesh states made when a test runs.
enum TestPKI {
    static let trustDomain = "cluster.local"

    static func identity(_ namespace: String, _ serviceAccount: String, trustDomain: String = trustDomain) -> SpiffeID {
        SpiffeID(trustDomain: trustDomain, namespace: namespace, serviceAccount: serviceAccount)
    }

    /// A mesh with the given workloads, each on its node.
    static func state(trustDomain: String = trustDomain, ttl: Duration = .seconds(3600),
                      workloads: [(namespace: String, serviceAccount: String, node: String)]) throws -> MeshState {
        var config = MeshConfig()
        config.trustDomain = trustDomain
        config.workloadCertificateTTL = ttl
        var resources = [LocatedResource(resource: .meshConfig(name: "mesh", config), file: "test.yaml", line: 1)]
        for (index, workload) in workloads.enumerated() {
            let entry = Workload(name: "\(workload.serviceAccount)-\(index)", namespace: workload.namespace,
                                 addresses: [IPAddress("198.18.0.\(index + 1)")!],
                                 serviceAccount: workload.serviceAccount, node: workload.node)
            resources.append(LocatedResource(resource: .workload(entry), file: "test.yaml", line: index + 2))
        }
        return try MeshState(resources: resources, generation: 1)
    }

    /// A workload credential as the CA service would issue it.
    static func workloadCredential(_ authority: CertificateAuthority, _ identity: SpiffeID,
                                   ttl: Duration = .seconds(3600)) throws -> WorkloadCredential {
        let csr = try WorkloadCSR(identity: identity)
        let chain = try authority.signWorkload(csrPEM: csr.pem, identity: identity, ttl: ttl)
        return try WorkloadCredential(identity: identity, chain: chain, privateKey: csr.privateKey)
    }

    /// A leaf the CA's API would never make (expired, foreign names, no SPIFFE),
    /// signed by `authority`'s root so only the property under test is wrong.
    static func unusualLeaf(signedBy authority: CertificateAuthority, names: [GeneralName],
                            notBefore: Date = Date() - 60, notAfter: Date = Date() + 3600) throws -> Certificate {
        let key = P256.Signing.PrivateKey()
        let extensions = try Certificate.Extensions {
            Critical(BasicConstraints.notCertificateAuthority)
            Critical(KeyUsage(digitalSignature: true))
            try ExtendedKeyUsage([.serverAuth, .clientAuth])
            SubjectAlternativeNames(names)
        }
        return try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: Certificate.PublicKey(key.publicKey),
            notValidBefore: notBefore, notValidAfter: notAfter, issuer: authority.root.subject,
            subject: try DistinguishedName { CommonName("unusual") }, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: extensions, issuerPrivateKey: Certificate.PrivateKey(authority.key)
        )
    }
}

/// A fresh directory under the system temporary directory, removed afterwards.
func withTemporaryDirectory<T>(_ body: (String) async throws -> T) async rethrows -> T {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-identity-\(UUID().uuidString)").path
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try await body(path)
}

/// A one-thread event loop group, shut down afterwards (also on failure).
func withEventLoopGroup<T>(_ body: (EventLoopGroup) async throws -> T) async throws -> T {
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    do {
        let result = try await body(group)
        try await group.shutdownGracefully()
        return result
    } catch {
        try? await group.shutdownGracefully()
        throw error
    }
}
