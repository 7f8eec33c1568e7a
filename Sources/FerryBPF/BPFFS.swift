import CLibBPF
import Glibc

/// The BPF filesystem: where Ferry's maps and links are pinned so they outlive
/// ferryd.
public enum BPFFS {
    public static let defaultMount = "/sys/fs/bpf"
    static let bpfFSMagic: Int = 0xcafe4a11

    public static func isMounted(_ path: String = defaultMount) -> Bool {
        var fs = statfs()
        guard statfs(path, &fs) == 0 else { return false }
        return Int(fs.f_type) == bpfFSMagic
    }

    /// Mounts bpffs at its usual place when the host has not (some VMs do not).
    public static func ensureMounted(_ path: String = defaultMount) throws {
        if isMounted(path) { return }
        mkdir(path, 0o755)
        guard mount("bpf", path, "bpf", 0, nil) == 0 else {
            throw BPFError.last("mount bpffs at \(path)")
        }
    }

    public static func makeDirectory(_ path: String) throws {
        var partial = ""
        for component in path.split(separator: "/") {
            partial += "/" + component
            if mkdir(partial, 0o755) != 0 && errno != EEXIST {
                throw BPFError.last("create pin directory \(partial)")
            }
        }
    }

    /// Names in a directory (files and pins), sorted; empty when it does not exist.
    public static func list(_ directory: String) -> [String] {
        guard let dir = opendir(directory) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    public static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    /// Removes a pin or an empty directory; missing is fine.
    public static func remove(_ path: String) throws {
        if unlink(path) == 0 || errno == ENOENT { return }
        if errno == EISDIR || errno == EPERM {
            if rmdir(path) == 0 || errno == ENOENT { return }
        }
        throw BPFError.last("remove pin \(path)")
    }
}
