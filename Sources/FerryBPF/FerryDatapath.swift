import CLibBPF
import Foundation
import Glibc
import Logging

/// Where one Ferry datapath lives on a node. Production uses the defaults (attach
/// at the cgroup2 root, pin under /sys/fs/bpf/ferry); tests give every simulated
/// node its own cgroup subtree and pin directory, so two agents share one kernel.
public struct DatapathLayout: Sendable, Hashable {
    public static let defaultPinDirectory = "/sys/fs/bpf/ferry"

    /// Directory holding the compiled `*.bpf.o` objects.
    public var objectDirectory: String
    /// bpffs directory for maps; links go in `links/` below it.
    public var pinDirectory: String
    /// Absolute path of the cgroup the programs attach to.
    public var cgroupRoot: String

    public init(objectDirectory: String, pinDirectory: String = defaultPinDirectory, cgroupRoot: String) {
        self.objectDirectory = objectDirectory
        self.pinDirectory = pinDirectory
        self.cgroupRoot = cgroupRoot
    }

    /// The layout from command-line choices, with the defaults filled in: attach at
    /// the cgroup2 mount, pins in $FERRY_PIN_DIR or /sys/fs/bpf/ferry, objects from
    /// `defaultObjectDirectory()`.
    public static func resolve(pinDirectory: String?, cgroupRoot: String?, objectDirectory: String?) throws -> DatapathLayout {
        guard let mount = CgroupFS.mountPoint() else {
            throw BPFError("find the cgroup2 mount", errno: ENOENT, detail: "Ferry needs cgroup v2; nothing of type cgroup2 in /proc/self/mountinfo")
        }
        return DatapathLayout(
            objectDirectory: objectDirectory ?? defaultObjectDirectory(),
            pinDirectory: pinDirectory ?? ProcessInfo.processInfo.environment["FERRY_PIN_DIR"] ?? defaultPinDirectory,
            cgroupRoot: cgroupRoot ?? mount
        )
    }

    /// $FERRY_BPF_DIR, then /usr/lib/ferry/bpf (the image), then BPF/build of the
    /// source tree the executable was built in.
    public static func defaultObjectDirectory() -> String {
        if let env = ProcessInfo.processInfo.environment["FERRY_BPF_DIR"] { return env }
        let installed = "/usr/lib/ferry/bpf"
        if FileManager.default.fileExists(atPath: installed + "/connect.bpf.o") { return installed }
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<6 {
            let candidate = directory.appendingPathComponent("BPF/build")
            if FileManager.default.fileExists(atPath: candidate.appendingPathComponent("connect.bpf.o").path) {
                return candidate.path
            }
            directory = directory.deletingLastPathComponent()
        }
        return "BPF/build"
    }

    public var linksDirectory: String { pinDirectory + "/links" }
    /// One directory per pod network namespace (named by its inode) holding the
    /// sk_lookup link ferryd attached there.
    public var podsDirectory: String { pinDirectory + "/pods" }
    public func podLinkPath(inode: UInt64) -> String { "\(podsDirectory)/\(inode)/\(FerryDatapath.inboundProgram)" }
    public func mapPath(_ name: String) -> String { pinDirectory + "/" + name }
}

/// Load-time choices about the datapath (the layout says where it lives).
public struct DatapathSettings: Sendable, Hashable {
    /// Size of the close-event ring buffer (`ferry_events`) in bytes.
    public var eventBufferBytes: UInt32
    /// Whether sockops writes close records at all; off only to measure what
    /// they cost (`make bench`).
    public var closeEvents: Bool

    public init(eventBufferBytes: UInt32 = FERRY_EVENTS_DEFAULT_BYTES, closeEvents: Bool = true) {
        self.eventBufferBytes = eventBufferBytes
        self.closeEvents = closeEvents
    }

    /// What is wrong with a ring buffer size, or nil: the kernel takes a power
    /// of two of at least a page.
    public static func problem(eventBufferBytes bytes: UInt64) -> String? {
        let page = UInt64(sysconf(Int32(_SC_PAGESIZE)))
        let most: UInt64 = 1 << 30
        guard bytes >= page, bytes <= most, bytes & (bytes - 1) == 0 else {
            return "\(bytes) is not a power of two between the page size (\(page)) and \(most) bytes"
        }
        return nil
    }

    /// What each object changes before it loads: every object declares the
    /// shared maps (so each sizes the ring buffer alike); sockops has the switch.
    func loadOptions(for file: String) -> BPFLoadOptions {
        BPFLoadOptions(
            mapSizes: ["ferry_events": eventBufferBytes],
            settings: file == "sockops.bpf.o" ? ["ferry_close_events": closeEvents ? 1 : 0] : [:]
        )
    }
}

/// Ferry's programs and maps as one unit: install (load, attach, pin), reopen the
/// pins, and remove everything.
public final class FerryDatapath: @unchecked Sendable {
    /// The objects, in load order, and the programs each attaches.
    public static let objects: [(file: String, programs: [String])] = [
        ("connect.bpf.o", ["ferry_connect4", "ferry_connect6", "ferry_peername4", "ferry_peername6"]),
        ("sockops.bpf.o", ["ferry_sockops"]),
        ("sockopt.bpf.o", ["ferry_getsockopt"]),
        ("inbound.bpf.o", ["ferry_inbound_lookup"]),
    ]
    /// Programs that must also run for ferryd's own sockets: cgroup/getsockopt
    /// answers its origin lookups and sockops records its sockets (`ferry_own`,
    /// their kernel stats). Both run for the caller's cgroup, so an agent
    /// outside the cgroup root gets them attached at its own cgroup as well
    /// (pinned as `links/<name>@agent`).
    static let agentPrograms: Set<String> = ["ferry_sockops", "ferry_getsockopt"]
    static let agentLinkSuffix = "@agent"
    /// Programs that attach to the network namespace rather than the cgroup root.
    static let netnsPrograms: Set<String> = [inboundProgram]
    static let inboundProgram = "ferry_inbound_lookup"
    public static let mapNames = [
        "ferry_enrolled", "ferry_capture", "ferry_noports", "ferry_pending",
        "ferry_tuples", "ferry_conns", "ferry_counters", "ferry_inbound", "ferry_listeners", "ferry_pod_listeners", "ferry_own",
        "ferry_strict", "ferry_events", "ferry_names",
    ]
    /// Workload names ferryd keeps for ferryctl (`ferry_names`): one per enrolled workload.
    static let workloadNameCapacity: UInt32 = 4096
    /// Pod namespaces that can have a :15006 listener pair at once.
    public static let podListenerPairs = UInt16(FERRY_POD_LISTENER_PAIRS)

    public let layout: DatapathLayout
    public let enrolled: BPFMap<UInt64, ferry_workload>
    public let capture: BPFMap<ferry_cidr_key, UInt32>
    public let excludedPorts: BPFMap<UInt16, UInt8>
    public let tuples: BPFMap<ferry_tuple, ferry_origin>
    public let connections: BPFMap<UInt64, ferry_conn_stats>
    public let counters: BPFCounterArray
    public let inbound: BPFMap<ferry_inbound_key, ferry_inbound_value>
    /// Destinations that take only mTLS (1) and port-level exceptions (0):
    /// refused rather than passed through while ferryd is down.
    public let mtlsOnly: BPFMap<ferry_inbound_key, UInt8>
    /// The SOCKMAP of ferryd's :15006 listeners (values are socket descriptors).
    public let listeners: BPFMap<UInt32, UInt64>
    /// The SOCKMAP of ferryd's :15006 listeners inside pod network namespaces.
    public let podListeners: BPFMap<UInt32, UInt64>
    /// Workload index -> "namespace/name", for reading the maps while ferryd is
    /// down; nil in a pin set an older ferryd made.
    public let workloadNames: BPFMap<UInt32, ferry_workload_name>?
    /// The close-event ring buffer (read with `RingBufferReader`).
    public var eventsPath: String { layout.mapPath("ferry_events") }
    private let settings: DatapathSettings
    /// inbound.bpf.o, loaded once when the first pod namespace needs its program.
    private var inboundObject: BPFObject?
    private let inboundLock = NSLock()

    private init(layout: DatapathLayout, settings: DatapathSettings = DatapathSettings()) throws {
        self.layout = layout
        self.settings = settings
        let names = layout.mapPath("ferry_names")
        workloadNames = BPFFS.exists(names) ? try BPFMap(pinned: names) : nil
        enrolled = try BPFMap(pinned: layout.mapPath("ferry_enrolled"))
        capture = try BPFMap(pinned: layout.mapPath("ferry_capture"))
        excludedPorts = try BPFMap(pinned: layout.mapPath("ferry_noports"))
        tuples = try BPFMap(pinned: layout.mapPath("ferry_tuples"))
        connections = try BPFMap(pinned: layout.mapPath("ferry_conns"))
        counters = try BPFCounterArray(pinned: layout.mapPath("ferry_counters"))
        inbound = try BPFMap(pinned: layout.mapPath("ferry_inbound"))
        mtlsOnly = try BPFMap(pinned: layout.mapPath("ferry_strict"))
        listeners = try BPFMap(pinned: layout.mapPath("ferry_listeners"))
        podListeners = try BPFMap(pinned: layout.mapPath("ferry_pod_listeners"))
    }

    /// Registers a listening socket in a ferry_listeners slot.
    public func registerListener(fd: Int32, slot: UInt32) throws {
        var key = slot
        var value = UInt64(fd)
        guard bpf_map_update_elem(listeners.fd, &key, &value, UInt64(BPF_ANY)) == 0 else {
            throw BPFError.last("register listener in map 'ferry_listeners' slot \(slot)")
        }
    }

    /// Registers a listening socket opened inside a pod's network namespace as
    /// the IPv4 or IPv6 half of listener pair `pair` (1-based, see
    /// `ferry_inbound_value.listener`).
    public func registerPodListener(fd: Int32, pair: UInt16, ipv6: Bool) throws {
        guard pair >= 1, pair <= Self.podListenerPairs else {
            throw BPFError("register pod listener", errno: EINVAL, detail: "pair \(pair) outside 1...\(Self.podListenerPairs)")
        }
        var key = 2 * UInt32(pair - 1) + (ipv6 ? 1 : 0)
        var value = UInt64(fd)
        guard bpf_map_update_elem(podListeners.fd, &key, &value, UInt64(BPF_ANY)) == 0 else {
            throw BPFError.last("register listener in map 'ferry_pod_listeners' slot \(key)")
        }
    }

    /// Attaches the sk_lookup program to a pod's network namespace and pins the
    /// link at `pods/<inode>/`, so the namespace stays guarded (STRICT ports
    /// dropped) while ferryd is down. A link pinned by an earlier run for the
    /// same namespace gets this run's program swapped in; a pin whose namespace
    /// is gone (or whose inode now names another namespace) is replaced.
    /// Returns whether a new link was attached.
    @discardableResult
    public func attachInbound(networkNamespace path: String, inode: UInt64) throws -> Bool {
        inboundLock.lock()
        defer { inboundLock.unlock() }
        do {
            if inboundObject == nil {
                inboundObject = try BPFObject(path: layout.objectDirectory + "/inbound.bpf.o", pinRoot: layout.pinDirectory,
                                              options: settings.loadOptions(for: "inbound.bpf.o"))
            }
            let program = try inboundObject!.program(named: Self.inboundProgram)
            let pin = layout.podLinkPath(inode: inode)
            if BPFFS.exists(pin) {
                if let existing = BPFLink.openPinned(pin), existing.networkNamespaceInode == inode {
                    try existing.update(program: program)
                    return false
                }
                try BPFFS.remove(pin)
            }
            let netnsFD = open(path, O_RDONLY | O_CLOEXEC)
            guard netnsFD >= 0 else { throw BPFError.last("open network namespace \(path)") }
            defer { close(netnsFD) }
            let link = try program.attach(netnsFD: netnsFD)
            // The path may have been reused by another namespace since the inode was read.
            guard link.networkNamespaceInode == inode else {
                throw BPFError("attach to network namespace \(path)", errno: ESTALE, detail: "it is no longer namespace \(inode)")
            }
            try BPFFS.makeDirectory(layout.podsDirectory + "/\(inode)")
            try link.pin(at: pin)
            return true
        }
    }

    /// Detaches the sk_lookup program from a pod namespace (removes its pins).
    public func detachInbound(inode: UInt64) throws {
        inboundLock.lock()
        defer { inboundLock.unlock() }
        do {
            let directory = layout.podsDirectory + "/\(inode)"
            for name in BPFFS.list(directory) { try BPFFS.remove(directory + "/" + name) }
            try BPFFS.remove(directory)
        }
    }

    /// The pod namespaces (inodes) that have a pinned sk_lookup link.
    public func inboundNamespaces() -> [UInt64] {
        BPFFS.list(layout.podsDirectory).compactMap { UInt64($0) }
    }

    /// Opens the pinned maps of an installed datapath (ferryctl, or ferryd after
    /// `install`).
    public static func openPinned(_ layout: DatapathLayout) throws -> FerryDatapath {
        guard BPFFS.exists(layout.mapPath("ferry_enrolled")) else {
            throw BPFError("open Ferry maps in \(layout.pinDirectory)", errno: ENOENT,
                           detail: "the datapath is not loaded; start ferryd or run `ferryctl load`")
        }
        return try FerryDatapath(layout: layout)
    }

    /// Loads every program, attaches it at the cgroup root, and pins maps and
    /// links. On a restart, pinned maps are reused (enrollment survives) and each
    /// pinned link gets the new program swapped in atomically, so capture never
    /// pauses. A pin set of an older build works: maps it lacks are made,
    /// and maps whose shape changed are replaced (`PinnedMapRepair`).
    /// `asAgent`: the caller is ferryd, whose own cgroup may need the agent
    /// programs too; `ferryctl load` leaves those links to the agent.
    public static func install(_ layout: DatapathLayout, settings: DatapathSettings = DatapathSettings(), asAgent: Bool = true,
                               logger: Logger) throws -> FerryDatapath {
        if let reason = RingBufferReader.unsupportedReason() {
            throw BPFError("create the close-event ring buffer", errno: EOPNOTSUPP, detail: reason + "; see `ferryctl check`")
        }
        try BPFFS.ensureMounted()
        try BPFFS.makeDirectory(layout.linksDirectory)
        let cgroupFD = try CgroupFS.open(layout.cgroupRoot)
        defer { close(cgroupFD) }
        // sk_lookup attaches to this process's network namespace: the node's.
        let netnsFD = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC)
        guard netnsFD >= 0 else { throw BPFError.last("open /proc/self/ns/net") }
        defer { close(netnsFD) }
        let cgroup = LinkAttachPoint.cgroup(id: try CgroupFS.cgroupID(path: layout.cgroupRoot), path: layout.cgroupRoot)
        let netns = LinkAttachPoint.networkNamespace(inode: try Self.inode(ofDescriptor: netnsFD))
        let agentCgroup = asAgent ? try agentCgroupToAttach(layout) : nil
        for (file, programNames) in objects {
            let object = try BPFObject(path: layout.objectDirectory + "/" + file, pinRoot: layout.pinDirectory,
                                       options: settings.loadOptions(for: file))
            for repair in object.repairs { logger.notice("\(repair)") }
            for name in programNames {
                let program = try object.program(named: name)
                let pin = layout.linksDirectory + "/" + name
                let isNetns = netnsPrograms.contains(name)
                if BPFFS.exists(pin) {
                    guard let stale = try reuse(pin: pin, program: program, expected: isNetns ? netns : cgroup) else {
                        logger.debug("replaced program in pinned link", metadata: ["ferry.program": "\(name)"])
                        continue
                    }
                    try BPFFS.remove(pin)
                    logger.notice("replaced \(stale)", metadata: ["ferry.program": "\(name)", "ferry.pin": "\(pin)"])
                }
                let link = isNetns ? try program.attach(netnsFD: netnsFD) : try program.attach(cgroupFD: cgroupFD)
                try link.pin(at: pin)
                logger.info("attached program", metadata: ["ferry.program": "\(name)", "ferry.cgroup": "\(layout.cgroupRoot)"])
            }
            for name in programNames where asAgent && agentPrograms.contains(name) {
                try attachForAgent(try object.program(named: name), at: agentCgroup, layout: layout, logger: logger)
            }
        }
        _ = try BPFMap<UInt32, ferry_workload_name>.pinnedHash(at: layout.mapPath("ferry_names"), maxEntries: workloadNameCapacity)
        return try FerryDatapath(layout: layout, settings: settings)
    }

    /// The agent's own cgroup when its programs must be attached there too
    /// (outside the root); nil when the root already covers it. An agent in an
    /// ancestor of the root is refused: attaching there would run the programs
    /// twice for every workload below.
    static func agentCgroupToAttach(_ layout: DatapathLayout) throws -> String? {
        guard let mount = CgroupFS.mountPoint(), let own = CgroupFS.cgroupOf(pid: getpid()) else { return nil }
        let path = own == "/" ? mount : mount + own
        switch CgroupFS.placement(of: path, root: layout.cgroupRoot) {
        case .inside: return nil
        case .outside: return path
        case .above:
            throw BPFError("attach at cgroup root \(layout.cgroupRoot)", errno: EINVAL, detail: """
                ferryd runs in \(path), above the cgroup root: its own connections would not reach the \
                getsockopt and sockops programs, and attaching them at its cgroup would run them twice for \
                every workload below. Run ferryd in a cgroup of its own beside or below the root \
                (e.g. mkdir \(mount)/ferry-agent && echo $PID > \(mount)/ferry-agent/cgroup.procs)
                """)
        }
    }

    /// Attaches (or swaps into the pinned link of) an agent program at the
    /// agent's cgroup; with the agent inside the root, removes such a link
    /// left by an earlier run.
    private static func attachForAgent(_ program: BPFProgram, at agentCgroup: String?, layout: DatapathLayout,
                                       logger: Logger) throws {
        let pin = layout.linksDirectory + "/" + program.name + agentLinkSuffix
        guard let agentCgroup else {
            if BPFFS.exists(pin) {
                try BPFFS.remove(pin)
                logger.notice("removed the agent-cgroup link of an earlier run: ferryd now runs inside the cgroup root",
                              metadata: ["ferry.program": "\(program.name)"])
            }
            return
        }
        let expected = LinkAttachPoint.cgroup(id: try CgroupFS.cgroupID(path: agentCgroup), path: agentCgroup)
        if BPFFS.exists(pin) {
            guard let stale = try reuse(pin: pin, program: program, expected: expected) else { return }
            try BPFFS.remove(pin)
            logger.notice("replaced \(stale)", metadata: ["ferry.program": "\(program.name)", "ferry.pin": "\(pin)"])
        }
        let fd = try CgroupFS.open(agentCgroup)
        defer { close(fd) }
        try program.attach(cgroupFD: fd).pin(at: pin)
        logger.notice("ferryd runs outside the cgroup root: attached its own lookups' program at its cgroup too",
                      metadata: ["ferry.program": "\(program.name)", "ferry.cgroup": "\(agentCgroup)"])
    }

    /// Swaps `program` into a pinned link attached where it belongs; returns
    /// nil then, or why the pin must be replaced: the link was severed (its
    /// namespace or cgroup is gone), or an earlier run attached it elsewhere.
    private static func reuse(pin: String, program: BPFProgram, expected: LinkAttachPoint) throws -> String? {
        guard let existing = BPFLink.openPinned(pin) else { return "a pin that is not a readable link" }
        if let stale = existing.staleness(expected: expected) { return stale }
        do {
            try existing.update(program: program)
            return nil
        } catch let error as BPFError where error.errno == ENOLINK {
            // Severed between the check and the update.
            return "a stale link: \(error)"
        }
    }

    static func inode(ofDescriptor fd: Int32) throws -> UInt64 {
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw BPFError.last("stat network namespace") }
        return UInt64(info.st_ino)
    }

    /// Whether every program is attached through a pinned link, with the
    /// sk_lookup links of pod namespaces as "ferry_inbound_lookup@netns:<inode>".
    public static func attachedPrograms(_ layout: DatapathLayout) -> [String: Bool] {
        var result: [String: Bool] = [:]
        for (_, programs) in objects {
            for name in programs { result[name] = BPFFS.exists(layout.linksDirectory + "/" + name) }
        }
        for name in agentPrograms where BPFFS.exists(layout.linksDirectory + "/" + name + agentLinkSuffix) {
            result[name + agentLinkSuffix] = true
        }
        for pod in BPFFS.list(layout.podsDirectory) {
            result["\(inboundProgram)@netns:\(pod)"] = BPFFS.exists(layout.podsDirectory + "/" + pod + "/" + inboundProgram)
        }
        return result
    }

    /// Detaches every program and removes every pin Ferry made under the pin
    /// directory. Returns what was removed.
    @discardableResult
    public static func uninstall(_ layout: DatapathLayout) throws -> [String] {
        var removed: [String] = []
        for pod in BPFFS.list(layout.podsDirectory) {
            for name in BPFFS.list(layout.podsDirectory + "/" + pod) {
                try BPFFS.remove(layout.podsDirectory + "/" + pod + "/" + name)
                removed.append("pods/\(pod)/" + name)
            }
            try BPFFS.remove(layout.podsDirectory + "/" + pod)
        }
        try BPFFS.remove(layout.podsDirectory)
        for name in BPFFS.list(layout.linksDirectory) {
            try BPFFS.remove(layout.linksDirectory + "/" + name)
            removed.append("links/" + name)
        }
        try BPFFS.remove(layout.linksDirectory)
        for name in BPFFS.list(layout.pinDirectory) {
            try BPFFS.remove(layout.pinDirectory + "/" + name)
            removed.append(name)
        }
        try BPFFS.remove(layout.pinDirectory)
        return removed
    }
}
