import Glibc
import Synchronization

/// A bearer token, literal or read from a file. A service account token is
/// rotated by the kubelet (the file's symlink is swapped), so the file is
/// checked on every use and re-read when it changed.
public final class BearerToken: Sendable {
    enum Source: Sendable, Hashable {
        case literal(String)
        case file(String)
    }

    let source: Source
    private let cached = Mutex<(stamp: FileStamp, token: String)?>(nil)

    public static func literal(_ token: String) -> BearerToken { BearerToken(.literal(token)) }
    public static func file(_ path: String) -> BearerToken { BearerToken(.file(path)) }

    init(_ source: Source) {
        self.source = source
    }

    /// The token to send now.
    public func current() throws -> String {
        switch source {
        case .literal(let token):
            return token
        case .file(let path):
            guard let stamp = FileStamp(path: path) else {
                throw CredentialError(path, "token file cannot be read: \(String(cString: strerror(errno)))")
            }
            if let cached = cached.withLock({ $0 }), cached.stamp == stamp { return cached.token }
            let token = try readFile(path).trimmingWhitespace()
            guard !token.isEmpty else { throw CredentialError(path, "token file is empty") }
            cached.withLock { $0 = (stamp, token) }
            return token
        }
    }
}

/// Enough of a file's metadata to notice it was replaced or rewritten.
struct FileStamp: Hashable, Sendable {
    var inode: UInt64
    var size: Int64
    var modified: Int64

    init?(path: String) {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        inode = UInt64(info.st_ino)
        size = Int64(info.st_size)
        modified = Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec)
    }
}

/// A whole small file (token, certificate, kubeconfig), with the path in the error.
func readFileBytes(_ path: String) throws -> [UInt8] {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw CredentialError(path, "cannot be read: \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 16384)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 {
            if errno == EINTR { continue }
            throw CredentialError(path, "cannot be read: \(String(cString: strerror(errno)))")
        }
        if n == 0 { return bytes }
        bytes.append(contentsOf: chunk[0..<n])
    }
}

func readFile(_ path: String) throws -> String {
    String(decoding: try readFileBytes(path), as: UTF8.self)
}

extension String {
    func trimmingWhitespace() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\n" || $0 == "\r" || $0 == "\t" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(self[first...last])
    }
}
