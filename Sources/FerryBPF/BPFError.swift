import Glibc

/// A failed BPF operation: what was being done, to which object, and why.
///
/// The description is one line meant for an operator: it names the program, map or
/// path, the errno, and what usually causes it.
public struct BPFError: Error, Hashable, CustomStringConvertible, Sendable {
    /// What was being attempted, naming the object: "load program 'ferry_connect4'".
    public var operation: String
    public var errno: Int32
    /// The kernel verifier's or libbpf's last words, when there were any.
    public var detail: String?

    public init(_ operation: String, errno: Int32, detail: String? = nil) {
        self.operation = operation
        self.errno = errno
        self.detail = detail
    }

    /// Captures the thread's current errno.
    public static func last(_ operation: String, detail: String? = nil) -> BPFError {
        BPFError(operation, errno: Glibc.errno, detail: detail)
    }

    public var description: String {
        var text = "\(operation): \(Self.explain(errno))"
        if let detail, !detail.isEmpty { text += " (\(detail))" }
        return text
    }

    /// strerror plus the usual cause in Ferry's context.
    public static func explain(_ code: Int32) -> String {
        let name = String(cString: strerror(code))
        let hint: String
        switch code {
        case EPERM: hint = "needs root with CAP_BPF, CAP_NET_ADMIN and CAP_SYS_ADMIN, and no locked-down kernel"
        case EACCES: hint = "the verifier rejected the program, or permission denied"
        case ENOENT: hint = "no such object, pin or file"
        case EEXIST: hint = "already exists"
        case E2BIG: hint = "the map is full"
        case EINVAL: hint = "invalid argument: kernel too old for this program type or attach point?"
        case EBADF: hint = "not a BPF object"
        case ENOTSUP, EOPNOTSUPP: hint = "not supported by this kernel"
        case EBUSY: hint = "in use"
        case ENOLINK: hint = "the link's cgroup or network namespace is gone"
        default: hint = ""
        }
        return hint.isEmpty ? "\(name) (errno \(code))" : "\(name) (errno \(code)): \(hint)"
    }
}
