import Crypto
import FerryMesh
import Foundation
import Logging
import Testing
import X509

@testable import FerryIdentity

@Suite struct CertificateAuthorityTests {
    @Test func initializeThenLoadGivesTheSameRootAndKey() async throws {
        try await withTemporaryDirectory { directory in
            let created = try CertificateAuthority.initialize(directory: directory, trustDomain: "example.org")
            let loaded = try CertificateAuthority.load(directory: directory)
            #expect(loaded.root == created.root)
            #expect(loaded.trustDomain == "example.org")
            #expect(loaded.key.rawRepresentation == created.key.rawRepresentation)

            let root = loaded.root
            #expect(root.subject == root.issuer)
            #expect("\(root.subject)".contains("CN=Ferry Root CA"))
            #expect("\(root.subject)".contains("O=example.org"))
            #expect(try root.extensions.basicConstraints == .isCertificateAuthority(maxPathLength: 0))
            #expect(try root.extensions.keyUsage?.keyCertSign == true)
            let years = root.notValidAfter.timeIntervalSince(root.notValidBefore) / (365 * 24 * 3600)
            #expect(years > 9.9 && years < 10.1)

            let keyMode = try FileManager.default.attributesOfItem(atPath: directory + "/ca.key")[.posixPermissions] as? Int
            #expect(keyMode == 0o600)
            let recorded = try String(contentsOfFile: directory + "/trust-domain", encoding: .utf8)
            #expect(recorded == "example.org\n")
        }
    }

    @Test func initializeRefusesToOverwriteAnExistingCA() async throws {
        try await withTemporaryDirectory { directory in
            let first = try CertificateAuthority.initialize(directory: directory, trustDomain: "cluster.local")
            let error = #expect(throws: CredentialFileError.self) {
                try CertificateAuthority.initialize(directory: directory, trustDomain: "cluster.local")
            }
            #expect(error?.problem == .exists)
            #expect(error?.path == directory + "/ca.crt")
            // The first CA is untouched.
            #expect(try CertificateAuthority.load(directory: directory).root == first.root)
        }
    }

    @Test func loadNamesTheMissingOrBadFile() async throws {
        try await withTemporaryDirectory { directory in
            let missing = #expect(throws: CredentialFileError.self) { try CertificateAuthority.load(directory: directory) }
            #expect(missing == CredentialFileError(path: directory + "/ca.crt", problem: .missing))

            _ = try CertificateAuthority.initialize(directory: directory, trustDomain: "cluster.local")
            try "not a key".write(toFile: directory + "/ca.key", atomically: true, encoding: .utf8)
            let bad = #expect(throws: CredentialFileError.self) { try CertificateAuthority.load(directory: directory) }
            #expect(bad?.path == directory + "/ca.key")
            #expect(bad?.description.contains("not a PEM ECDSA P-256 private key") == true)
        }
    }

    @Test func loadRefusesAKeyThatIsNotTheRootsKey() async throws {
        try await withTemporaryDirectory { directory in
            _ = try CertificateAuthority.initialize(directory: directory, trustDomain: "cluster.local")
            try P256.Signing.PrivateKey().pemRepresentation.write(toFile: directory + "/ca.key", atomically: true, encoding: .utf8)
            let error = #expect(throws: CredentialFileError.self) { try CertificateAuthority.load(directory: directory) }
            #expect(error?.description.contains("does not belong to the certificate") == true)
        }
    }

    @Test func invalidTrustDomainIsRefusedBeforeAnythingIsWritten() async {
        await withTemporaryDirectory { directory in
            #expect(throws: IssuanceError.invalidTrustDomain("Bad/Domain")) {
                try CertificateAuthority.initialize(directory: directory, trustDomain: "Bad/Domain")
            }
            #expect(!FileManager.default.fileExists(atPath: directory))
        }
    }

    @Test func nodeCredentialCarriesTheNodeURIAndRoundTripsThroughFiles() async throws {
        let authority = try CertificateAuthority.generate(trustDomain: "cluster.local")
        let credential = try authority.issueNodeCredential(node: "node-a")
        #expect(credential.nodeName == "node-a")
        #expect(credential.trustDomain == "cluster.local")
        #expect(try credential.certificate.uriSANs == ["spiffe://cluster.local/ferry/node/node-a"])
        // The node path can never be read as a workload identity.
        #expect(SpiffeID("spiffe://cluster.local/ferry/node/node-a") == nil)
        let usages = try #require(try credential.certificate.extensions.extendedKeyUsage)
        #expect(usages.contains(.serverAuth) && usages.contains(.clientAuth))
        #expect(try credential.certificate.extensions.keyUsage?.digitalSignature == true)

        try await withTemporaryDirectory { directory in
            try credential.write(to: directory)
            let loaded = try NodeCredential.load(directory: directory)
            #expect(loaded.certificate == credential.certificate)
            #expect(loaded.root == authority.root)
            #expect(loaded.nodeName == "node-a")
            let keyMode = try FileManager.default.attributesOfItem(atPath: directory + "/node.key")[.posixPermissions] as? Int
            #expect(keyMode == 0o600)
        }
    }

    @Test func nodeNamesThatWouldBreakTheURIAreRefused() throws {
        let authority = try CertificateAuthority.generate(trustDomain: "cluster.local")
        #expect(throws: IssuanceError.invalidNodeName("a/b")) { try authority.issueNodeCredential(node: "a/b") }
        #expect(throws: IssuanceError.invalidNodeName("")) { try authority.issueNodeCredential(node: "") }
    }

    @Test func aWorkloadCertificateIsNotANodeCredential() throws {
        let authority = try CertificateAuthority.generate(trustDomain: "cluster.local")
        let workload = try TestPKI.workloadCredential(authority, TestPKI.identity("demo", "web"))
        #expect(throws: NodeCredentialError.self) {
            try NodeCredential(certificate: workload.leaf, privateKey: workload.privateKey, root: authority.root)
        }
    }
}
