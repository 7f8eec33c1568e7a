import ArgumentParser
import FerryBPF
import Foundation
import Logging

/// `ferryctl load`: attach and pin the programs without an agent (fail-open until
/// ferryd runs). `ferryctl unload`: remove every program, link, map and pin.
struct LoadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "load", abstract: "Load, attach and pin Ferry's BPF programs.")

    @OptionGroup var output: OutputOptions
    @OptionGroup var datapath: DatapathOptions

    func run() async throws {
        guard geteuid() == 0 else { fail("must run as root to load BPF programs") }
        let layout = datapath.layout()
        LibBPFLog.install(logger: Logger(label: "ferry.libbpf"))
        do {
            _ = try FerryDatapath.install(layout, asAgent: false, logger: Logger(label: "ferryctl"))
        } catch {
            fail("\(error)")
        }
        let attached = FerryDatapath.attachedPrograms(layout)
        if output.json { return output.printJSON(attached) }
        print("loaded: \(attached.keys.sorted().joined(separator: ", ")) at \(layout.cgroupRoot), pinned under \(layout.pinDirectory)")
    }
}

struct UnloadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "unload", abstract: "Detach Ferry's programs and remove every pin.")

    @OptionGroup var output: OutputOptions
    @OptionGroup var datapath: DatapathOptions

    func run() async throws {
        guard geteuid() == 0 else { fail("must run as root to remove BPF pins") }
        let layout = datapath.layout()
        let removed: [String]
        do { removed = try FerryDatapath.uninstall(layout) } catch { fail("\(error)") }
        if output.json { return output.printJSON(removed) }
        print(removed.isEmpty ? "nothing pinned under \(layout.pinDirectory)" : "removed \(removed.count) pins from \(layout.pinDirectory): \(removed.joined(separator: ", "))")
    }
}
