import Crypto
import Foundation
import X509

/// What each kind of Ferry certificate contains. One place, so node, workload and
/// CA serving certificates cannot drift apart.
enum CertificateProfiles {
    /// Certificates start a minute in the past so a peer whose clock is a little
    /// behind still accepts a certificate issued this second.
    static let clockSkewAllowance: TimeInterval = 60

    static func root(key: P256.Signing.PrivateKey, trustDomain: String, validity: TimeInterval,
                     now: Date = Date()) throws -> Certificate {
        let name = try DistinguishedName {
            OrganizationName(trustDomain)
            CommonName("Ferry Root CA")
        }
        let publicKey = Certificate.PublicKey(key.publicKey)
        let extensions = try Certificate.Extensions {
            Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
            Critical(KeyUsage(keyCertSign: true, cRLSign: true))
            SubjectKeyIdentifier(hash: publicKey)
        }
        return try Certificate(
            version: .v3, serialNumber: Certificate.randomSerial(), publicKey: publicKey,
            notValidBefore: now - clockSkewAllowance, notValidAfter: now + validity,
            issuer: name, subject: name, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: extensions, issuerPrivateKey: Certificate.PrivateKey(key)
        )
    }

    /// An end-entity certificate whose only URI SAN is `name`.
    ///
    /// The SAN is not marked critical although the SPIFFE spec allows it: the
    /// subject is not empty, and swift-certificates' RFC5280Policy rejects leaves
    /// with critical extensions it does not police (SAN is not among them).
    static func leaf(publicKey: Certificate.PublicKey, name: MeshName, validity: TimeInterval,
                     issuer: Certificate, issuerKey: P256.Signing.PrivateKey, now: Date = Date()) throws -> Certificate {
        let subject = try DistinguishedName { OrganizationName(name.trustDomain) }
        let extensions = try Certificate.Extensions {
            Critical(BasicConstraints.notCertificateAuthority)
            Critical(KeyUsage(digitalSignature: true))
            try ExtendedKeyUsage([.serverAuth, .clientAuth])
            SubjectKeyIdentifier(hash: publicKey)
            AuthorityKeyIdentifier(keyIdentifier: try issuer.extensions.subjectKeyIdentifier?.keyIdentifier)
            SubjectAlternativeNames([.uniformResourceIdentifier(name.uri)])
        }
        return try Certificate(
            version: .v3, serialNumber: Certificate.randomSerial(), publicKey: publicKey,
            notValidBefore: now - clockSkewAllowance, notValidAfter: now + validity,
            issuer: issuer.subject, subject: subject, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: extensions, issuerPrivateKey: Certificate.PrivateKey(issuerKey)
        )
    }
}
