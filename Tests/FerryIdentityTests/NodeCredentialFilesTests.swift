import Foundation
import Testing

@testable import FerryIdentity

/// A renewed node credential replaces the one on disk so that a crash at any
/// point leaves a loadable pair.
@Suite struct NodeCredentialFilesTests {
    let authority = try! CertificateAuthority.generate(trustDomain: TestPKI.trustDomain)

    func directory() throws -> String {
        let path = NSTemporaryDirectory() + "ferry-nodecred-\(UInt32.random(in: 0 ... .max))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test func aRenewedCredentialReplacesTheOldOne() throws {
        let path = try directory()
        defer { try? FileManager.default.removeItem(atPath: path) }
        try authority.issueNodeCredential(node: "node-a", validity: .seconds(60)).write(to: path)
        let renewed = try authority.issueNodeCredential(node: "node-a", validity: .seconds(120))
        try renewed.replace(in: path)
        let loaded = try NodeCredential.load(directory: path)
        #expect(loaded.certificate == renewed.certificate)
        #expect(!FileManager.default.fileExists(atPath: path + "/node.key.next"))
    }

    /// The certificate was replaced, the key not yet: `load` finishes the job.
    @Test func aRenewalCutBetweenCertificateAndKeyIsMended() throws {
        let path = try directory()
        defer { try? FileManager.default.removeItem(atPath: path) }
        try authority.issueNodeCredential(node: "node-a", validity: .seconds(60)).write(to: path)
        let renewed = try authority.issueNodeCredential(node: "node-a", validity: .seconds(120))
        try CredentialFiles.write(renewed.privateKey.pemRepresentation, to: path + "/node.key.next", mode: 0o600, overwrite: true)
        try CredentialFiles.write(renewed.certificate.pemString, to: path + "/node.crt", mode: 0o644, overwrite: true)
        let loaded = try NodeCredential.load(directory: path)
        #expect(loaded.certificate == renewed.certificate)
        #expect(try NodeCredential.load(directory: path).certificate == renewed.certificate)
    }

    /// Cut before the certificate moved: the old pair still loads.
    @Test func aRenewalCutBeforeTheCertificateKeepsTheOldPair() throws {
        let path = try directory()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let old = try authority.issueNodeCredential(node: "node-a", validity: .seconds(60))
        try old.write(to: path)
        let renewed = try authority.issueNodeCredential(node: "node-a", validity: .seconds(120))
        try CredentialFiles.write(renewed.privateKey.pemRepresentation, to: path + "/node.key.next", mode: 0o600, overwrite: true)
        #expect(try NodeCredential.load(directory: path).certificate == old.certificate)
    }

    @Test func revocationCoversWhatWasIssuedBeforeIt() {
        let revokedAt = Date(timeIntervalSince1970: 1_000_000)
        let list = NodeRevocations(revocations: [.init(node: "node-a", revokedAt: revokedAt, reason: "leaked")])
        #expect(list.revocation(node: "node-a", issuedAt: revokedAt - 3600) != nil)
        #expect(list.revocation(node: "node-a", issuedAt: revokedAt) != nil)
        #expect(list.revocation(node: "node-a", issuedAt: revokedAt + 1) == nil)
        #expect(list.revocation(node: "node-b", issuedAt: revokedAt - 3600) == nil)
    }
}
