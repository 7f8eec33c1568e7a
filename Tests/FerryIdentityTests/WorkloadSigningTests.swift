import Crypto
import FerryMesh
import Foundation
import Logging
import Testing
import X509

@testable import FerryIdentity

@Suite struct WorkloadSigningTests {
    let authority: CertificateAuthority
    let identity = TestPKI.identity("demo", "web")

    init() throws {
        authority = try CertificateAuthority.generate(trustDomain: TestPKI.trustDomain)
    }

    @Test func leafHasOneURISANTheTTLAndBothUsages() async throws {
        let csr = try WorkloadCSR(identity: identity)
        let before = Date()
        let chain = try authority.signWorkload(csrPEM: csr.pem, identity: identity, ttl: .seconds(600))
        #expect(chain.count == 2)
        #expect(chain[1] == authority.root)
        let leaf = chain[0]

        #expect(try leaf.uriSANs == [identity.uri])
        #expect(try leaf.extensions.subjectAlternativeNames?.count == 1)
        #expect(leaf.publicKey == Certificate.PublicKey(csr.privateKey.publicKey))
        // TTL as given, from now; notBefore backdated about a minute for clock skew.
        #expect(abs(leaf.notValidAfter.timeIntervalSince(before) - 600) < 3)
        let backdated = before.timeIntervalSince(leaf.notValidBefore)
        #expect(backdated > 55 && backdated < 65)
        let usages = try #require(try leaf.extensions.extendedKeyUsage)
        #expect(usages.contains(.serverAuth) && usages.contains(.clientAuth))
        #expect(try leaf.extensions.basicConstraints == .notCertificateAuthority)
        #expect(leaf.serialNumber.bytes.count == 16)
        #expect(try leaf.extensions.authorityKeyIdentifier?.keyIdentifier
                == authority.root.extensions.subjectKeyIdentifier?.keyIdentifier)
        #expect(try leaf.extensions.subjectKeyIdentifier != nil)

        // The chain verifies against the root with swift-certificates' own verifier.
        var verifier = Verifier(rootCertificates: CertificateStore([authority.root])) { RFC5280Policy() }
        let result = await verifier.validate(leaf: leaf, intermediates: CertificateStore())
        guard case .validCertificate = result else {
            Issue.record("leaf does not verify: \(result)")
            return
        }
    }

    @Test func serialsAreRandomPerCertificate() throws {
        let csr = try WorkloadCSR(identity: identity)
        let first = try authority.signWorkload(csrPEM: csr.pem, identity: identity, ttl: .seconds(60))[0]
        let second = try authority.signWorkload(csrPEM: csr.pem, identity: identity, ttl: .seconds(60))[0]
        #expect(first.serialNumber != second.serialNumber)
        #expect(first.serialHex.count == 32)
    }

    @Test func csrAskingForAnotherIdentityIsRefused() throws {
        let csr = try WorkloadCSR(identity: TestPKI.identity("demo", "admin"))
        #expect(throws: IssuanceError.csrNamesMismatch(requested: ["spiffe://cluster.local/ns/demo/sa/admin"],
                                                       identity: identity.uri)) {
            try authority.signWorkload(csrPEM: csr.pem, identity: identity, ttl: .seconds(60))
        }
    }

    @Test func csrWithoutRequestedNamesGetsTheIdentity() throws {
        let key = P256.Signing.PrivateKey()
        let csr = try CertificateSigningRequest(
            version: .v1, subject: DistinguishedName { CommonName("bare") },
            privateKey: Certificate.PrivateKey(key), attributes: CertificateSigningRequest.Attributes()
        )
        let chain = try authority.signWorkload(csrPEM: csr.serializeAsPEM().pemString, identity: identity, ttl: .seconds(60))
        #expect(try chain[0].uriSANs == [identity.uri])
    }

    @Test func csrWithABadSignatureIsRefused() throws {
        // A CSR carrying one key but signed by another: the requester does not
        // hold the key it asks a certificate for.
        let honest = try CertificateSigningRequest(pemEncoded: WorkloadCSR(identity: identity).pem)
        let forged = try CertificateSigningRequest(
            version: .v1, subject: honest.subject,
            publicKey: Certificate.PublicKey(P256.Signing.PrivateKey().publicKey),
            attributes: honest.attributes, signatureAlgorithm: honest.signatureAlgorithm, signature: honest.signature
        )
        #expect(throws: IssuanceError.badCSRSignature) {
            try authority.signWorkload(csrPEM: forged.serializeAsPEM().pemString, identity: identity, ttl: .seconds(60))
        }
    }

    @Test func garbageIsAMalformedCSR() throws {
        #expect(throws: IssuanceError.self) {
            try authority.signWorkload(csrPEM: "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----",
                                       identity: identity, ttl: .seconds(60))
        }
    }

    @Test func identityOutsideTheCAsTrustDomainIsRefused() throws {
        let foreign = TestPKI.identity("demo", "web", trustDomain: "other.org")
        let csr = try WorkloadCSR(identity: foreign)
        #expect(throws: IssuanceError.foreignTrustDomain(identity: foreign.uri, caTrustDomain: "cluster.local")) {
            try authority.signWorkload(csrPEM: csr.pem, identity: foreign, ttl: .seconds(60))
        }
    }
}
