import ArgumentParser
import FerryBPF

/// Where this node's BPF side lives (defaults: /sys/fs/bpf/ferry, the cgroup2 mount).
struct DatapathOptions: ParsableArguments {
    @Option(help: "bpffs directory of Ferry's pins (default /sys/fs/bpf/ferry).")
    var pinDir: String?

    @Option(help: "cgroup the programs attach to (default: the cgroup2 mount).")
    var cgroupRoot: String?

    @Option(help: "Directory of compiled BPF objects.")
    var bpfObjects: String?

    func layout() -> DatapathLayout {
        do {
            return try DatapathLayout.resolve(pinDirectory: pinDir, cgroupRoot: cgroupRoot, objectDirectory: bpfObjects)
        } catch {
            fail("\(error)")
        }
    }

    /// The pinned maps, or a clear failure when nothing is loaded.
    func openPinned() -> FerryDatapath {
        do {
            return try FerryDatapath.openPinned(layout())
        } catch {
            fail("\(error)")
        }
    }
}
