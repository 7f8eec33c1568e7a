import ArgumentParser
import CLibBPF
import FerryBPF
import Foundation

/// `ferryctl check`: can this node run Ferry? One line per requirement.
struct CheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check", abstract: "Verify the kernel, cgroup v2, bpffs, capabilities and program types Ferry needs."
    )

    @OptionGroup var output: OutputOptions

    struct Result: Codable {
        var name: String
        var ok: Bool
        var detail: String
    }

    func run() async throws {
        let results = NodeCheck.all()
        if output.json {
            output.printJSON(results)
        } else {
            for result in results {
                print("\(result.ok ? "ok     " : "MISSING") \(result.name): \(result.detail)")
            }
        }
        if results.contains(where: { !$0.ok }) { throw ExitCode(1) }
    }
}

enum NodeCheck {
    static func all() -> [CheckCommand.Result] {
        var results = [kernelVersion(), btf(), cgroup2(), bpffs(), capabilities()]
        let types: [(String, bpf_prog_type)] = [
            ("cgroup/connect4|6 and getpeername4|6 (cgroup_sock_addr)", BPF_PROG_TYPE_CGROUP_SOCK_ADDR),
            ("sockops", BPF_PROG_TYPE_SOCK_OPS),
            ("cgroup/getsockopt (cgroup_sockopt)", BPF_PROG_TYPE_CGROUP_SOCKOPT),
            ("sk_lookup", BPF_PROG_TYPE_SK_LOOKUP),
        ]
        for (name, type) in types {
            let supported = libbpf_probe_bpf_prog_type(type, nil) == 1
            results.append(.init(name: "program type \(name)", ok: supported,
                                 detail: supported ? "supported" : "not supported by this kernel (or no permission to probe)"))
        }
        let ringBufferProblem = RingBufferReader.unsupportedReason()
        results.append(.init(name: "map type ringbuf (close records)", ok: ringBufferProblem == nil, detail: ringBufferProblem ?? "supported"))
        let helpers: [(String, bpf_prog_type, bpf_func_id)] = [
            ("bpf_sk_lookup_tcp in connect hooks (fail-open check)", BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_FUNC_sk_lookup_tcp),
            ("bpf_get_netns_cookie in getsockopt", BPF_PROG_TYPE_CGROUP_SOCKOPT, BPF_FUNC_get_netns_cookie),
            ("bpf_get_netns_cookie in sockops", BPF_PROG_TYPE_SOCK_OPS, BPF_FUNC_get_netns_cookie),
        ]
        for (name, type, helper) in helpers {
            let supported = libbpf_probe_bpf_helper(type, helper, nil) == 1
            results.append(.init(name: "helper \(name)", ok: supported, detail: supported ? "available" : "not available"))
        }
        return results
    }

    static func kernelVersion() -> CheckCommand.Result {
        var name = utsname()
        uname(&name)
        let release = withUnsafeBytes(of: name.release) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
        let numbers = release.split(whereSeparator: { !$0.isNumber }).prefix(2).compactMap { Int($0) }
        let ok = numbers.count == 2 && (numbers[0] > 5 || numbers[0] == 5 && numbers[1] >= 15)
        return .init(name: "kernel", ok: ok, detail: "\(release) (needs ≥ 5.15)")
    }

    static func btf() -> CheckCommand.Result {
        let ok = FileManager.default.fileExists(atPath: "/sys/kernel/btf/vmlinux")
        return .init(name: "BTF", ok: ok, detail: ok ? "/sys/kernel/btf/vmlinux" : "no /sys/kernel/btf/vmlinux (kernel built without CONFIG_DEBUG_INFO_BTF)")
    }

    static func cgroup2() -> CheckCommand.Result {
        guard let mount = CgroupFS.mountPoint() else {
            return .init(name: "cgroup v2", ok: false, detail: "no cgroup2 mount in /proc/self/mountinfo")
        }
        return .init(name: "cgroup v2", ok: true, detail: "mounted at \(mount)")
    }

    static func bpffs() -> CheckCommand.Result {
        if BPFFS.isMounted() { return .init(name: "bpffs", ok: true, detail: "mounted at \(BPFFS.defaultMount)") }
        if geteuid() == 0, (try? BPFFS.ensureMounted()) != nil {
            return .init(name: "bpffs", ok: true, detail: "was not mounted; mounted it at \(BPFFS.defaultMount)")
        }
        return .init(name: "bpffs", ok: false, detail: "not mounted at \(BPFFS.defaultMount) (mount -t bpf bpf \(BPFFS.defaultMount))")
    }

    static func capabilities() -> CheckCommand.Result {
        let missing = Capabilities.missing()
        return .init(name: "capabilities", ok: missing.isEmpty,
                     detail: missing.isEmpty ? Capabilities.needed.map(\.name).joined(separator: ", ")
                         : "missing \(missing.joined(separator: ", ")) (run as root)")
    }
}
