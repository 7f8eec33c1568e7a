import Crypto
import Foundation
import X509

/// Reading and writing the PEM files credentials live in.
///
/// Writes go to a temporary file created with its final mode, then move into
/// place, so a private key is never readable by others, not even for a moment,
/// and a crash never leaves half a file.
enum CredentialFiles {
    static func read(_ path: String) throws -> String {
        guard FileManager.default.fileExists(atPath: path) else {
            throw CredentialFileError(path: path, problem: .missing)
        }
        do {
            return try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw CredentialFileError(path: path, problem: .unreadable("\(error)"))
        }
    }

    static func write(_ contents: String, to path: String, mode: mode_t, overwrite: Bool) throws {
        let temporary = path + ".tmp-\(UInt32.random(in: .min ... .max))"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw CredentialFileError(path: path, problem: .unreadable(errnoText())) }
        // Text files end in a newline (PEM from swift-asn1 does not).
        let bytes = Array((contents.hasSuffix("\n") ? contents : contents + "\n").utf8)
        let written = bytes.withUnsafeBytes { Foundation.write(fd, $0.baseAddress, $0.count) }
        let synced = fsync(fd) == 0
        close(fd)
        guard written == bytes.count, synced else {
            let reason = errnoText()
            unlink(temporary)
            throw CredentialFileError(path: path, problem: .unreadable(reason))
        }
        // link() fails when the target exists: the no-overwrite case stays atomic.
        let placed = overwrite ? rename(temporary, path) : link(temporary, path)
        let placeError = errno
        if !overwrite || placed != 0 { unlink(temporary) }
        guard placed == 0 else {
            let problem: CredentialFileError.Problem =
                placeError == EEXIST ? .exists : .unreadable(String(cString: strerror(placeError)))
            throw CredentialFileError(path: path, problem: problem)
        }
    }

    static func createDirectory(_ path: String) throws {
        do {
            try FileManager.default.createDirectory(
                atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700]
            )
        } catch {
            throw CredentialFileError(path: path, problem: .unreadable("\(error)"))
        }
    }

    static func readCertificate(_ path: String) throws -> Certificate {
        let text = try read(path)
        do {
            return try Certificate(pemEncoded: text)
        } catch {
            throw CredentialFileError(path: path, problem: .invalid("not a PEM certificate: \(error)"))
        }
    }

    static func readPrivateKey(_ path: String) throws -> P256.Signing.PrivateKey {
        let text = try read(path)
        do {
            return try P256.Signing.PrivateKey(pemRepresentation: text)
        } catch {
            throw CredentialFileError(path: path, problem: .invalid("not a PEM ECDSA P-256 private key: \(error)"))
        }
    }

    private static func errnoText() -> String { String(cString: strerror(errno)) }
}
