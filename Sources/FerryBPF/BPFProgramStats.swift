import CLibBPF
import Glibc

/// The kernel's own accounting of a program: how often it ran and for how long.
public struct BPFProgramStats: Sendable, Hashable, Codable {
    public var name: String
    public var id: UInt32
    public var runCount: UInt64
    public var runTimeNanoseconds: UInt64
}

public enum BPFProgramAccounting {
    /// Turns on run-time statistics (`kernel.bpf_stats_enabled`) for as long as the
    /// returned descriptor stays open; nil when the kernel refuses.
    public static func enable() -> Int32? {
        let fd = bpf_enable_stats(BPF_STATS_RUN_TIME)
        return fd >= 0 ? fd : nil
    }

    /// Statistics of the program behind each pinned link in a directory.
    public static func statistics(linksDirectory: String) -> [BPFProgramStats] {
        BPFFS.list(linksDirectory).compactMap { name in
            let linkFD = bpf_obj_get(linksDirectory + "/" + name)
            guard linkFD >= 0 else { return nil }
            defer { close(linkFD) }
            var linkInfo = bpf_link_info()
            var linkLength = UInt32(MemoryLayout<bpf_link_info>.size)
            guard bpf_obj_get_info_by_fd(linkFD, &linkInfo, &linkLength) == 0 else { return nil }
            let programFD = bpf_prog_get_fd_by_id(linkInfo.prog_id)
            guard programFD >= 0 else { return nil }
            defer { close(programFD) }
            var info = bpf_prog_info()
            var length = UInt32(MemoryLayout<bpf_prog_info>.size)
            guard bpf_obj_get_info_by_fd(programFD, &info, &length) == 0 else { return nil }
            return BPFProgramStats(name: name, id: info.id, runCount: info.run_cnt, runTimeNanoseconds: info.run_time_ns)
        }
    }
}
