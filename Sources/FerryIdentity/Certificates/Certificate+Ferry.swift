import Crypto
import Foundation
import NIOSSL
import SwiftASN1
import X509

extension Certificate {
    /// The DER encoding, as TLS and NIOSSL want it.
    public var derBytes: [UInt8] {
        get throws {
            var serializer = DER.Serializer()
            try serializer.serialize(self)
            return serializer.serializedBytes
        }
    }

    /// PEM text ending in a newline, so several can be concatenated into a bundle.
    public var pemString: String {
        get throws { try serializeAsPEM().pemString + "\n" }
    }

    /// The URI SANs, in order (SPIFFE allows exactly one).
    public var uriSANs: [String] {
        get throws {
            guard let names = try extensions.subjectAlternativeNames else { return [] }
            return names.compactMap {
                if case .uniformResourceIdentifier(let uri) = $0 { return uri }
                return nil
            }
        }
    }

    /// Lowercase hex, as `openssl x509 -serial` prints it.
    public var serialHex: String {
        serialNumber.bytes.map { String(format: "%02x", $0) }.joined()
    }

    /// The one Ferry name this certificate carries, or nil.
    public var meshName: MeshName? {
        guard let uris = try? uriSANs, uris.count == 1 else { return nil }
        return MeshName(uri: uris[0])
    }

    public var nioSSLCertificate: NIOSSLCertificate {
        get throws { try NIOSSLCertificate(bytes: derBytes, format: .der) }
    }

    /// A random 16-byte serial: positive (top bit clear) and always full width
    /// (next bit set), so every serial prints as 32 hex digits; 126 random bits.
    static func randomSerial() -> SerialNumber {
        var bytes = (0..<16).map { _ in UInt8.random(in: .min ... .max) }
        bytes[0] = (bytes[0] & 0x3f) | 0x40
        return SerialNumber(bytes: bytes)
    }
}

extension P256.Signing.PrivateKey {
    public var nioSSLPrivateKey: NIOSSLPrivateKey {
        get throws { try NIOSSLPrivateKey(bytes: Array(pemRepresentation.utf8), format: .pem) }
    }
}
