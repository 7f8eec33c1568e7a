import FerryMesh
import Foundation
import Logging
import NIOSSL
import Testing
import X509

@testable import FerryIdentity

@Suite struct PeerVerifierTests {
    let authority: CertificateAuthority
    let logs = LogCapture()
    let verifier: PeerVerifier

    init() throws {
        authority = try CertificateAuthority.generate(trustDomain: TestPKI.trustDomain)
        verifier = try PeerVerifier(root: authority.root, trustDomain: TestPKI.trustDomain, logger: logs.logger)
    }

    @Test func validWorkloadAndNode() async throws {
        let identity = TestPKI.identity("demo", "web")
        let workload = try TestPKI.workloadCredential(authority, identity)
        #expect(await verifier.verify(workload.chain) == .valid(.workload(identity)))
        // The NIOSSL form, as the TLS callback sees it, gives the same answer.
        #expect(await verifier.verify(workload.nioSSLCertificateChain) == .valid(.workload(identity)))

        let node = try authority.issueNodeCredential(node: "node-a")
        #expect(await verifier.verify([node.certificate]) == .valid(.node("node-a")))
        #expect(verifier.refusalCounts().isEmpty)
        #expect(PeerVerifier.identity(fromLeafDER: try workload.leaf.derBytes) == .workload(identity))
    }

    @Test func expiredCertificate() async throws {
        let notAfter = Date() - 120
        let leaf = try TestPKI.unusualLeaf(signedBy: authority, names: [.uniformResourceIdentifier(TestPKI.identity("demo", "web").uri)],
                                           notBefore: Date() - 3600, notAfter: notAfter)
        let result = await verifier.verify([leaf])
        guard case .refused(.expired(let reported)) = result else {
            Issue.record("expected expired, got \(result)")
            return
        }
        #expect(abs(reported.timeIntervalSince(notAfter)) < 1)
        #expect(verifier.refusalCounts() == ["expired": 1])
    }

    @Test func notYetValidCertificate() async throws {
        let leaf = try TestPKI.unusualLeaf(signedBy: authority, names: [.uniformResourceIdentifier(TestPKI.identity("demo", "web").uri)],
                                           notBefore: Date() + 3600, notAfter: Date() + 7200)
        guard case .refused(.notYetValid) = await verifier.verify([leaf]) else {
            Issue.record("expected notYetValid")
            return
        }
        #expect(verifier.refusalCounts() == ["notYetValid": 1])
    }

    @Test func certificateFromAnotherCA() async throws {
        let stranger = try CertificateAuthority.generate(trustDomain: TestPKI.trustDomain)
        let workload = try TestPKI.workloadCredential(stranger, TestPKI.identity("demo", "web"))
        // Even with the other root sent along, only our root anchors a chain.
        let result = await verifier.verify(workload.chain)
        guard case .refused(.untrustedIssuer) = result else {
            Issue.record("expected untrustedIssuer, got \(result)")
            return
        }
        #expect(verifier.refusalCounts() == ["untrustedIssuer": 1])
    }

    @Test func certificateForAnotherTrustDomain() async throws {
        let leaf = try TestPKI.unusualLeaf(signedBy: authority, names: [.uniformResourceIdentifier("spiffe://other.org/ns/demo/sa/web")])
        #expect(await verifier.verify([leaf]) == .refused(.wrongTrustDomain(presented: "other.org", expected: "cluster.local")))
        #expect(verifier.refusalCounts() == ["wrongTrustDomain": 1])
    }

    @Test func nonSPIFFECertificates() async throws {
        let dnsOnly = try TestPKI.unusualLeaf(signedBy: authority, names: [.dnsName("web.demo.svc")])
        #expect(await verifier.verify([dnsOnly]) == .refused(.notASpiffeID(uris: [])))
        let https = try TestPKI.unusualLeaf(signedBy: authority, names: [.uniformResourceIdentifier("https://example.com/web")])
        #expect(await verifier.verify([https]) == .refused(.notASpiffeID(uris: ["https://example.com/web"])))
        let two = try TestPKI.unusualLeaf(signedBy: authority, names: [
            .uniformResourceIdentifier("spiffe://cluster.local/ns/demo/sa/web"),
            .uniformResourceIdentifier("spiffe://cluster.local/ns/demo/sa/db"),
        ])
        guard case .refused(.notASpiffeID) = await verifier.verify([two]) else {
            Issue.record("two URI SANs must be refused")
            return
        }
        #expect(verifier.refusalCounts() == ["notASpiffeID": 3])
    }

    @Test func otherRefusalsAreNamed() async throws {
        #expect(await verifier.verify([Certificate]()) == .refused(.noCertificate))
        let unknownPath = try TestPKI.unusualLeaf(signedBy: authority, names: [.uniformResourceIdentifier("spiffe://cluster.local/something/else")])
        #expect(await verifier.verify([unknownPath]) == .refused(.unrecognizedIdentity(uri: "spiffe://cluster.local/something/else")))
        let node = try authority.issueNodeCredential(node: "node-a")
        #expect(await verifier.verify([node.certificate], expecting: .node("node-b"))
                == .refused(.unexpectedIdentity(presented: "spiffe://cluster.local/ferry/node/node-a",
                                                expected: "spiffe://cluster.local/ferry/node/node-b")))
        #expect(verifier.refusalCounts() == ["noCertificate": 1, "unrecognizedIdentity": 1, "unexpectedIdentity": 1])
    }

    @Test func eachRefusalIsLoggedWithItsReason() async throws {
        let leaf = try TestPKI.unusualLeaf(signedBy: authority, names: [.uniformResourceIdentifier("spiffe://other.org/ns/a/sa/b")])
        _ = await verifier.verify([leaf])
        let warnings = logs.all.filter { $0.level == .warning }
        #expect(warnings.count == 1)
        #expect(warnings.first?.metadata["ferry.peer.refusal"] == "wrongTrustDomain")
        #expect(warnings.first?.metadata["ferry.peer.uri"] == "spiffe://other.org/ns/a/sa/b")
        #expect(warnings.first?.message.contains("trust domain other.org, not cluster.local") == true)
    }
}
