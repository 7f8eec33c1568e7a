import CLibBPF
import FerryBPF
import FerryTelemetry
import Foundation
import ServiceLifecycle
import Synchronization

/// Once a second, off the data path: reads the kernel's view (map fill, program
/// runs, datapath counters) and the agent's own (certificates, reloads) into
/// `AgentMetrics`, so a scrape only serialises what is already there. (Each
/// socket's RTT and retransmits are `KernelEventDrain`'s.)
public final class KernelSampler: Service, Sendable {
    private let datapath: FerryDatapath
    private let metrics: AgentMetrics
    private let certificates: @Sendable () -> [AdminAPI.Certificate]
    private let reloads: @Sendable () -> (success: Int, failure: Int)
    private let interval: Duration

    public init(datapath: FerryDatapath, metrics: AgentMetrics,
                certificates: @escaping @Sendable () -> [AdminAPI.Certificate],
                reloads: @escaping @Sendable () -> (success: Int, failure: Int), interval: Duration = .seconds(1)) {
        self.datapath = datapath
        self.metrics = metrics
        self.certificates = certificates
        self.reloads = reloads
        self.interval = interval
    }

    public func run() async throws {
        // Run counts need kernel.bpf_stats_enabled, which holds while this is open.
        let statsFD = BPFProgramAccounting.enable()
        defer { if let statsFD { close(statsFD) } }
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            sample()
            try? await Task.sleep(for: interval)
        }
    }

    func sample() {
        let layout = datapath.layout
        for name in FerryDatapath.mapNames {
            let fd = bpf_obj_get(layout.mapPath(name))
            guard fd >= 0 else { continue }
            defer { close(fd) }
            // A ring buffer has bytes, not entries.
            guard let info = try? BPFMapRef.info(fd: fd, name: name), info.type != "ringbuf" else { continue }
            let entries = info.type.contains("array") && !info.type.contains("sockmap")
                ? Int(info.maxEntries) : BPFMapRef.rawKeys(fd: fd, keySize: Int(info.keySize)).count
            metrics.mapEntries(name, entries: entries, capacity: Int(info.maxEntries))
        }
        for program in BPFProgramAccounting.statistics(linksDirectory: layout.linksDirectory) {
            metrics.programRuns(program.name, total: program.runCount)
        }
        for (name, total) in KernelCounters.read(datapath.counters) {
            metrics.datapathCounter(name, total: total)
        }
        for certificate in certificates() where certificate.notAfter > .distantPast {
            metrics.certificateExpiry(identity: certificate.identity, notAfter: certificate.notAfter.timeIntervalSince1970)
        }
        let counts = reloads()
        metrics.configReloads(success: counts.success, failure: counts.failure)
        if let process = ProcessStats.read() {
            metrics.process(cpuSeconds: process.cpuSeconds, residentBytes: process.residentBytes,
                            openDescriptors: process.openDescriptors, startTime: process.startTime)
        }
    }
}

/// This process's CPU, memory and descriptors, from /proc.
struct ProcessStats {
    var cpuSeconds: Double
    var residentBytes: Double
    var openDescriptors: Int
    var startTime: Double

    static let bootTime: Double = {
        let stat = (try? readText("/proc/stat")) ?? ""
        let line = stat.split(separator: "\n").first { $0.hasPrefix("btime ") }
        return line.flatMap { Double($0.split(separator: " ").last ?? "") } ?? 0
    }()

    static func read() -> ProcessStats? {
        guard let stat = try? readText("/proc/self/stat"), let statm = try? readText("/proc/self/statm"),
              let close = stat.lastIndex(of: ")") else { return nil }
        // Fields after the command name: state is field 3, utime 14, stime 15, starttime 22.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 19, let utime = Double(fields[11]), let stime = Double(fields[12]),
              let start = Double(fields[19]), let pages = Double(statm.split(separator: " ")[1]) else { return nil }
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        let pageSize = Double(sysconf(Int32(_SC_PAGESIZE)))
        let descriptors = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? 0
        return ProcessStats(cpuSeconds: (utime + stime) / ticks, residentBytes: pages * pageSize,
                            openDescriptors: descriptors, startTime: bootTime + start / ticks)
    }
}
