import Foundation
import Logging
import Synchronization

/// Node credentials the CA no longer honours: for each revoked node, every
/// credential issued before the revocation (so also one a thief renewed in the
/// meantime). A credential issued afterwards (`ferryctl ca issue-node` again)
/// is valid. Kept in the CA directory as `revoked-nodes.json`, written by
/// `ferryctl ca revoke-node` and read by the CA on each request that presents
/// a node credential (re-read only when the file changed).
public struct NodeRevocations: Sendable, Codable, Equatable {
    public struct Revocation: Sendable, Codable, Equatable {
        public var node: String
        public var revokedAt: Date
        public var reason: String
    }

    public var revocations: [Revocation] = []

    public static let file = "revoked-nodes.json"

    public init(revocations: [Revocation] = []) {
        self.revocations = revocations
    }

    /// The revocation that covers a credential of `node` issued at `issuedAt`.
    public func revocation(node: String, issuedAt: Date) -> Revocation? {
        revocations.last { $0.node == node && issuedAt <= $0.revokedAt }
    }

    /// When a leaf was issued: its notBefore is back-dated by the clock-skew allowance.
    public static func issueTime(notValidBefore: Date) -> Date {
        notValidBefore + CertificateProfiles.clockSkewAllowance
    }

    public static func load(directory: String) throws -> NodeRevocations {
        let path = directory + "/" + file
        guard FileManager.default.fileExists(atPath: path) else { return NodeRevocations() }
        do {
            let decoder = JSONDecoder()
            decoder.dateDecodingStrategy = .iso8601
            return try decoder.decode(NodeRevocations.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
        } catch {
            throw CredentialFileError(path: path, problem: .invalid("not a revocation list: \(error)"))
        }
    }

    /// Adds a revocation of `node` as of now and writes the list (atomically).
    public static func revoke(node: String, reason: String, directory: String, now: Date = Date()) throws -> Revocation {
        var list = try load(directory: directory)
        // Whole seconds: the file's ISO 8601 dates keep no fractions, and a
        // credential issued in the same second must count as revoked.
        let revocation = Revocation(node: node, revokedAt: Date(timeIntervalSince1970: now.timeIntervalSince1970.rounded(.up)),
                                    reason: reason)
        list.revocations.append(revocation)
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try CredentialFiles.write(String(decoding: try encoder.encode(list), as: UTF8.self),
                                  to: directory + "/" + file, mode: 0o644, overwrite: true)
        return revocation
    }
}

/// The CA's view of `revoked-nodes.json`: re-read when its modification time
/// changes. A file that does not parse revokes nothing new and keeps the last
/// good list (and says so once per change).
public final class NodeRevocationList: Sendable {
    private let directory: String?
    private let logger: Logger?
    private let cached = Mutex<(modified: Date?, list: NodeRevocations)>((nil, NodeRevocations()))

    /// nil: a CA without a directory (in memory, tests): nothing is revoked.
    public init(directory: String?, logger: Logger? = nil) {
        self.directory = directory
        self.logger = logger
    }

    public func current() -> NodeRevocations {
        guard let directory else { return NodeRevocations() }
        let path = directory + "/" + NodeRevocations.file
        let modified = (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date
        return cached.withLock { cached in
            if cached.modified == modified { return cached.list }
            cached.modified = modified
            do {
                cached.list = try NodeRevocations.load(directory: directory)
            } catch {
                logger?.error("revocation list unreadable; the last good one stays in force: \(error)")
            }
            return cached.list
        }
    }
}
