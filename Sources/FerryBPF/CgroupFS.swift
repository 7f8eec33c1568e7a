import Foundation
import Glibc

/// The cgroup v2 hierarchy: where it is mounted and how cgroup ids are read.
public enum CgroupFS {
    /// The cgroup2 mount point, read from /proc/self/mountinfo: hosts differ
    /// (/sys/fs/cgroup on unified hosts, /sys/fs/cgroup/unified on hybrid ones).
    public static func mountPoint(mountinfo: String? = nil) -> String? {
        let text = mountinfo ?? (try? readText("/proc/self/mountinfo")) ?? ""
        return parseMountPoint(mountinfo: text)
    }

    /// Pure parser for tests: the fields after " - " are fstype, source, options.
    public static func parseMountPoint(mountinfo: String) -> String? {
        for line in mountinfo.split(separator: "\n") {
            let halves = line.components(separatedBy: " - ")
            guard halves.count == 2 else { continue }
            let after = halves[1].split(separator: " ")
            guard after.first == "cgroup2" else { continue }
            let before = halves[0].split(separator: " ")
            guard before.count >= 5 else { continue }
            return unescapeMountPath(String(before[4]))
        }
        return nil
    }

    /// The cgroup id the kernel uses (bpf_get_current_cgroup_id): the inode number
    /// of the cgroup's directory on cgroup2.
    public static func cgroupID(path: String) throws -> UInt64 {
        var info = stat()
        guard stat(path, &info) == 0 else { throw BPFError.last("read cgroup \(path)") }
        guard (info.st_mode & S_IFMT) == S_IFDIR else {
            throw BPFError("read cgroup \(path)", errno: ENOTDIR)
        }
        return UInt64(info.st_ino)
    }

    /// Opens a cgroup directory for attaching programs.
    public static func open(_ path: String) throws -> Int32 {
        let fd = Glibc.open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw BPFError.last("open cgroup \(path)") }
        return fd
    }

    /// Where a cgroup sits relative to another (absolute paths): at or below
    /// it, above it (an ancestor), or in another branch.
    public enum Placement: Equatable, Sendable {
        case inside, above, outside
    }

    public static func placement(of path: String, root: String) -> Placement {
        func components(_ path: String) -> [Substring] { path.split(separator: "/") }
        let (cgroup, base) = (components(path), components(root))
        if cgroup.starts(with: base) { return .inside }
        if base.starts(with: cgroup) { return .above }
        return .outside
    }

    /// The cgroup2 path of a process, relative to the mount ("/a/b").
    public static func cgroupOf(pid: Int32) -> String? {
        guard let text = try? readText("/proc/\(pid)/cgroup") else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("0::") {
            return String(line.dropFirst(3))
        }
        return nil
    }

    static func unescapeMountPath(_ path: String) -> String {
        path.replacingOccurrences(of: "\\040", with: " ")
    }
}

/// Reads a whole (small, procfs or sysfs) file as text.
public func readText(_ path: String) throws -> String {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw BPFError.last("read \(path)") }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 { if errno == EINTR { continue }; throw BPFError.last("read \(path)") }
        if n == 0 { break }
        bytes.append(contentsOf: chunk[0..<n])
    }
    return String(decoding: bytes, as: UTF8.self)
}
