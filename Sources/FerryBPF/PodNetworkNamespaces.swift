import Foundation
import Glibc

/// A network namespace a pod's processes are in, with one process that holds it.
public struct PodNetworkNamespace: Sendable, Hashable {
    /// The namespace's inode on nsfs: its identity (`ip netns identify`, `lsns`).
    public var inode: UInt64
    /// A process in it, preferably not the pause (sandbox) process: an
    /// application process shows the namespace the workload really uses.
    public var pid: Int32
    /// Open this to enter the namespace (setns) or to hand it to a tool.
    public var path: String { "/proc/\(pid)/ns/net" }
}

extension PodCgroup {
    /// The distinct network namespaces of the processes in the pod's cgroup and
    /// its containers' cgroups. Usually one: every container of a pod shares the
    /// sandbox's namespace. Reading other processes' namespaces needs the host's
    /// PID namespace (ferryd runs with hostPID) and CAP_SYS_PTRACE or root.
    public func networkNamespaces(mount: String, proc: String = "/proc") -> [PodNetworkNamespace] {
        var pids: [Int32] = []
        var pending = [mount + path]
        // Pods nest at most a couple of levels (container scopes, CRI-O's conmon).
        for _ in 0..<4 where !pending.isEmpty {
            var next: [String] = []
            for directory in pending {
                pids += Self.processes(in: directory)
                next += PodCgroupLocator.subdirectories(of: directory).map { directory + "/" + $0 }
            }
            pending = next
        }
        var byInode: [UInt64: (pid: Int32, isPause: Bool)] = [:]
        for pid in pids.sorted() {
            guard let inode = Self.networkNamespaceInode(pid: pid, proc: proc) else { continue }  // exited meanwhile
            let isPause = Self.command(pid: pid, proc: proc) == "pause"
            if let known = byInode[inode], !(known.isPause && !isPause) { continue }
            byInode[inode] = (pid, isPause)
        }
        return byInode.map { PodNetworkNamespace(inode: $0.key, pid: $0.value.pid) }.sorted { $0.pid < $1.pid }
    }

    static func processes(in cgroup: String) -> [Int32] {
        guard let text = try? readText(cgroup + "/cgroup.procs") else { return [] }
        return text.split(separator: "\n").compactMap { Int32($0) }
    }

    static func networkNamespaceInode(pid: Int32, proc: String) -> UInt64? {
        var info = stat()
        guard stat("\(proc)/\(pid)/ns/net", &info) == 0 else { return nil }
        return UInt64(info.st_ino)
    }

    static func command(pid: Int32, proc: String) -> String? {
        (try? readText("\(proc)/\(pid)/comm")).map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
    }
}
