import FerryBPF
import Foundation
import Synchronization

/// A throwaway network of hosts for one test: network namespaces on a bridge
/// (198.18.0.0/24 and 2001:db8::/64, no default route anywhere), a cgroup subtree
/// and a bpffs pin directory per node, and every process started in them. `tearDown`
/// removes all of it, also after a failure; leftovers of a crashed run (a dead
/// test process's id in the name) are removed when the next lab starts.
final class TestLab: @unchecked Sendable {
    let id: String
    let cgroupMount: String
    let cgroupRoot: String
    let logDirectory: String
    private(set) var namespaces: [String] = []
    private(set) var processes: [BackgroundProcess] = []
    private var hostCount = 0

    private static let prefix = "ft\(getpid())"
    private static let counter = Atomic<Int>(0)

    init(_ name: String) throws {
        Self.removeStale()
        id = "\(Self.prefix)x\(Self.counter.wrappingAdd(1, ordering: .relaxed).newValue)"
        guard let mount = CgroupFS.mountPoint() else { throw LabError("no cgroup2 mount") }
        cgroupMount = mount
        cgroupRoot = "\(mount)/ferry-test-\(id)"
        logDirectory = NSTemporaryDirectory() + "ferry-test-\(id)-\(name)"
        try FileManager.default.createDirectory(atPath: logDirectory, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: cgroupRoot, withIntermediateDirectories: true)
        let hub = "\(id)h"
        try check(Shell.run(["ip", "netns", "add", hub]))
        namespaces.append(hub)
        try check(Shell.run(["nsenter", "--net=/run/netns/\(hub)", "sh", "-c",
                             "ip link add br0 type bridge && ip link set br0 up && ip link set lo up"]))
    }

    struct LabError: Error, CustomStringConvertible {
        var description: String
        init(_ text: String) { description = text }
    }

    @discardableResult
    func check(_ result: Shell.Result) throws -> Shell.Result {
        guard result.ok else { throw LabError("command failed (\(result.status)): \(result.output)") }
        return result
    }

    /// Which address families a host has. `.ipv4Only` is a node with IPv6
    /// disabled (`net.ipv6.conf.all.disable_ipv6=1`, as many clusters run);
    /// `.ipv6Only` has no IPv4 address but loopback's.
    enum Families: Sendable {
        case dual, ipv4Only, ipv6Only
    }

    /// How a host's link to the bridge behaves (this kernel has no netem: a
    /// user-space link emulator, Tools/delayline.py, sits in the middle).
    struct Link: Sendable {
        /// Added to every frame, in each direction.
        var delayEachWayMilliseconds: Double = 0
        /// Share of IP frames lost, in each direction.
        var lossPercent: Double = 0
        /// Fixes which frames are lost, run after run.
        var seed: Int? = 1

        init(delayEachWayMilliseconds: Double = 0, lossPercent: Double = 0, seed: Int? = 1) {
            self.delayEachWayMilliseconds = delayEachWayMilliseconds
            self.lossPercent = lossPercent
            self.seed = seed
        }

        /// The round trip to the bridge grows by `milliseconds`.
        init(roundTripMilliseconds milliseconds: Double) {
            self.init(delayEachWayMilliseconds: milliseconds / 2)
        }
    }

    /// A host: a namespace on the bridge with 198.18.0.<n>/24 and 2001:db8::<n>/64
    /// (or one of them, per `families`).
    /// With `delayMilliseconds`, its link goes through a delay line (this kernel
    /// has no netem), adding that much to every frame in each direction.
    func addHost(_ role: String, delayMilliseconds: Double?, families: Families = .dual) throws -> TestHost {
        try addHost(role, link: delayMilliseconds.map { Link(roundTripMilliseconds: $0) }, families: families)
    }

    /// A host whose link to the bridge is emulated (`link`), or a plain veth.
    func addHost(_ role: String, link: Link? = nil, families: Families = .dual) throws -> TestHost {
        hostCount += 1
        let n = hostCount
        let namespace = "\(id)\(role.prefix(3))\(n)"
        let hub = namespaces[0]
        try check(Shell.run(["ip", "netns", "add", namespace]))
        namespaces.append(namespace)
        if families == .ipv4Only {
            // Before any interface arrives: lo and eth0 never get an IPv6 address.
            try check(Shell.run(["nsenter", "--net=/run/netns/\(namespace)", "sh", "-c",
                                 "sysctl -qw net.ipv6.conf.all.disable_ipv6=1 && sysctl -qw net.ipv6.conf.default.disable_ipv6=1"]))
        }
        let outside = "\(id)v\(n)"
        if let link {
            let line = "\(id)d\(n)"
            try check(Shell.run(["ip", "netns", "add", line]))
            namespaces.append(line)
            try check(Shell.run(["ip", "link", "add", "dla", "netns", line, "type", "veth", "peer", "name", "eth0", "netns", namespace]))
            try check(Shell.run(["ip", "link", "add", outside, "type", "veth", "peer", "name", "dlb", "netns", line]))
            try check(Shell.run(["nsenter", "--net=/run/netns/\(line)", "sh", "-c", """
                sysctl -qw net.ipv6.conf.all.disable_ipv6=1 && \
                ip link set dla promisc on up && ip link set dlb promisc on up && \
                ethtool -K dla gro off gso off tso off tx off rx off >/dev/null && \
                ethtool -K dlb gro off gso off tso off tx off rx off >/dev/null
                """]))
            // Frames must fit the wire as they are relayed one by one: no offloads
            // that make 64 KiB super-frames on either side.
            try check(Shell.run(["nsenter", "--net=/run/netns/\(namespace)", "ethtool", "-K", "eth0", "gso", "off", "tso", "off", "tx", "off"]))
            try check(Shell.run(["ethtool", "-K", outside, "gso", "off", "tso", "off", "tx", "off"]))
            let cgroup = "\(cgroupRoot)/delay\(n)"
            try FileManager.default.createDirectory(atPath: cgroup, withIntermediateDirectories: true)
            let delayline = try spawn("delayline\(n)", namespace: line, cgroup: cgroup,
                                      ["python3", Paths.packageRoot + "/Tests/IntegrationTests/Tools/delayline.py",
                                       "dla", "dlb", "--delay-ms", "\(link.delayEachWayMilliseconds)",
                                       "--loss-percent", "\(link.lossPercent)"] + (link.seed.map { ["--seed", "\($0)"] } ?? []))
            guard delayline.waitForOutput("ready") else { throw LabError("delay line did not start: \(delayline.stderr)") }
        } else {
            try check(Shell.run(["ip", "link", "add", outside, "type", "veth", "peer", "name", "eth0", "netns", namespace]))
        }
        try check(Shell.run(["ip", "link", "set", outside, "netns", hub]))
        try check(Shell.run(["nsenter", "--net=/run/netns/\(hub)", "sh", "-c",
                             "ip link set \(outside) master br0 && ip link set \(outside) up"]))
        let v4 = families == .ipv6Only ? "" : "ip addr add 198.18.0.\(n)/24 dev eth0 && "
        let v6 = families == .ipv4Only ? "" : "ip addr add 2001:db8::\(n)/64 dev eth0 nodad && "
        try check(Shell.run(["nsenter", "--net=/run/netns/\(namespace)", "sh", "-c",
                             "ip link set lo up && \(v4)\(v6)ip link set eth0 up"]))
        let cgroup = "\(cgroupRoot)/\(role)\(n)"
        try FileManager.default.createDirectory(atPath: cgroup, withIntermediateDirectories: true)
        return TestHost(lab: self, name: "\(role)\(n)", namespace: namespace, ipv4: "198.18.0.\(n)",
                        ipv6: "2001:db8::\(n)", families: families, cgroup: cgroup)
    }

    /// Starts a process in a namespace and cgroup (the cgroup before exec, so
    /// everything it runs is inside).
    func spawn(_ name: String, namespace: String, cgroup: String, _ arguments: [String]) throws -> BackgroundProcess {
        let process = try BackgroundProcess(
            name: name,
            arguments: ["sh", "-c", "echo $$ > \"$0/cgroup.procs\" && ns=$1 && shift && exec nsenter --net=/run/netns/$ns \"$@\"",
                        cgroup, namespace] + arguments,
            logDirectory: logDirectory
        )
        processes.append(process)
        return process
    }

    /// Runs a command to completion in a namespace and cgroup.
    func run(namespace: String, cgroup: String, _ arguments: [String], timeout: Double = 120) -> Shell.Result {
        Shell.run(["sh", "-c", "echo $$ > \"$0/cgroup.procs\" && ns=$1 && shift && exec nsenter --net=/run/netns/$ns \"$@\"",
                   cgroup, namespace] + arguments, timeout: timeout)
    }

    /// Deletes a host's network namespace before the lab ends (a node that went away).
    func removeNamespace(_ namespace: String) {
        Shell.run(["ip", "netns", "del", namespace])
        namespaces.removeAll { $0 == namespace }
    }

    func tearDown() {
        for process in processes.reversed() { process.stop(grace: 3) }
        processes.removeAll()
        Self.removeCgroupTree(cgroupRoot)
        for namespace in namespaces.reversed() { Shell.run(["ip", "netns", "del", namespace]) }
        namespaces.removeAll()
        for pin in BPFFS.list(BPFFS.defaultMount) where pin.hasPrefix("ferry-test-\(id)") {
            Self.removePins(BPFFS.defaultMount + "/" + pin)
        }
    }

    /// The pin directory of a node of this lab.
    func pinDirectory(_ node: String) -> String { "\(BPFFS.defaultMount)/ferry-test-\(id)-\(node)" }

    /// Removes a pin directory and everything below it (`links/`, `pods/<inode>/`).
    static func removePins(_ directory: String) {
        for name in BPFFS.list(directory) {
            let path = directory + "/" + name
            var info = stat()
            if stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR {
                removePins(path)
            } else {
                try? BPFFS.remove(path)
            }
        }
        try? BPFFS.remove(directory)
    }

    /// Kills whatever is left in a cgroup tree, then removes it bottom-up.
    static func removeCgroupTree(_ path: String) {
        guard FileManager.default.fileExists(atPath: path) else { return }
        let children = ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [])
            .filter { name in
                var isDirectory: ObjCBool = false
                return FileManager.default.fileExists(atPath: path + "/" + name, isDirectory: &isDirectory) && isDirectory.boolValue
            }
        for child in children { removeCgroupTree(path + "/" + child) }
        for _ in 0..<50 {
            let procs = (try? String(contentsOfFile: path + "/cgroup.procs", encoding: .utf8)) ?? ""
            let pids = procs.split(separator: "\n").compactMap { Int32($0) }
            if pids.isEmpty { break }
            for pid in pids { kill(pid, SIGKILL) }
            usleep(20_000)
        }
        rmdir(path)
    }

    /// Leftovers of test runs whose process is gone.
    static func removeStale() {
        let namespaces = Shell.run(["ip", "netns", "list"]).stdout.split(separator: "\n").map { String($0.split(separator: " ")[0]) }
        for namespace in namespaces where isStale(namespace) { Shell.run(["ip", "netns", "del", namespace]) }
        if let mount = CgroupFS.mountPoint() {
            for name in (try? FileManager.default.contentsOfDirectory(atPath: mount)) ?? []
            where name.hasPrefix("ferry-test-") && isStale(String(name.dropFirst("ferry-test-".count))) {
                removeCgroupTree(mount + "/" + name)
            }
        }
        for pin in BPFFS.list(BPFFS.defaultMount) where pin.hasPrefix("ferry-test-") && isStale(String(pin.dropFirst("ferry-test-".count))) {
            removePins(BPFFS.defaultMount + "/" + pin)
        }
        removeOldLogs()
    }

    /// Log directories of finished runs, all but the latest run's: those stay
    /// for reading after a failure, and /tmp does not fill up run after run.
    static func removeOldLogs() {
        let temporary = NSTemporaryDirectory()
        let stale = ((try? FileManager.default.contentsOfDirectory(atPath: temporary)) ?? [])
            .filter { $0.hasPrefix("ferry-test-") && isStale(String($0.dropFirst("ferry-test-".count))) }
        let runs = Dictionary(grouping: stale) { name in
            name.dropFirst("ferry-test-".count).prefix { $0 != "x" }
        }
        func modified(_ name: Substring) -> Date {
            let dates = runs[name, default: []].compactMap {
                try? FileManager.default.attributesOfItem(atPath: temporary + $0)[.modificationDate] as? Date
            }
            return dates.max() ?? .distantPast
        }
        let latest = runs.keys.max { modified($0) < modified($1) }
        for (run, names) in runs where run != latest {
            for name in names { try? FileManager.default.removeItem(atPath: temporary + name) }
        }
    }

    /// "ft<pid>x..." names whose pid is not alive.
    static func isStale(_ name: String) -> Bool {
        guard name.hasPrefix("ft") else { return false }
        let digits = name.dropFirst(2).prefix(while: \.isNumber)
        guard let pid = Int32(digits) else { return false }
        return pid != getpid() && kill(pid, 0) != 0
    }
}

/// One host of a lab.
struct TestHost {
    let lab: TestLab
    let name: String
    let namespace: String
    let ipv4: String
    let ipv6: String
    let families: TestLab.Families
    /// The host's cgroup subtree: the node's cgroup root when an agent runs here.
    let cgroup: String

    /// The address its Node resource and workloads carry: IPv4 unless the host has none.
    var address: String { families == .ipv6Only ? ipv6 : ipv4 }

    /// `address:port`, bracketed for IPv6.
    func endpoint(_ port: Int) -> String { families == .ipv6Only ? "[\(ipv6)]:\(port)" : "\(ipv4):\(port)" }

    /// A child cgroup (for a workload or the agent), created on demand.
    func cgroup(_ child: String) throws -> String {
        let path = cgroup + "/" + child
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// The path relative to the cgroup2 mount, as `ferry.dev/cgroup` takes it.
    func relativeCgroup(_ child: String) -> String {
        String((cgroup + "/" + child).dropFirst(lab.cgroupMount.count))
    }

    func spawn(_ name: String, in child: String = "misc", _ arguments: [String]) throws -> BackgroundProcess {
        try lab.spawn(name, namespace: namespace, cgroup: try cgroup(child), arguments)
    }

    func run(in child: String = "misc", _ arguments: [String], timeout: Double = 120) throws -> Shell.Result {
        lab.run(namespace: namespace, cgroup: try cgroup(child), arguments, timeout: timeout)
    }
}
