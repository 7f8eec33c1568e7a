import CLibBPF
import FerryBPF
import FerryMesh
import FerryPolicy
import Logging
import ServiceLifecycle
import Synchronization

/// Which enrolled cgroup belongs to which workload: how ferryd names the source
/// of a captured connection (the kernel reports the cgroup id).
public final class EnrollmentTable: Sendable {
    private let byCgroup = Mutex<[UInt64: Workload]>([:])

    public init() {}

    public func workload(cgroupID: UInt64) -> Workload? { byCgroup.withLock { $0[cgroupID] } }
    /// By the index the kernel's records carry (`WorkloadIndex`).
    public func workload(index: UInt32) -> Workload? {
        byCgroup.withLock { table in table.values.first { WorkloadIndex.of($0) == index } }
    }
    public var all: [UInt64: Workload] { byCgroup.withLock { $0 } }
    func replace(_ table: [UInt64: Workload]) { byCgroup.withLock { $0 = table } }
}

/// Keeps the BPF maps equal to what the mesh state says for this node: enrolled
/// cgroups, the capture set and excluded ports. Each pass writes only the
/// differences, so enrolling a workload is one map update.
public final class DatapathReconciler: Service, Sendable {
    private let datapath: FerryDatapath
    private let store: StateStore
    private let node: String
    private let cgroupMount: String
    public let enrollment: EnrollmentTable
    private let policies: SecurityPolicyCache
    private let listenerPairs: InboundListenerPairs
    private let logger: Logger
    /// Problems of the last pass ("workload default/x: cgroup … does not exist").
    public let problems = Mutex<[String]>([])

    public init(datapath: FerryDatapath, store: StateStore, node: String, cgroupMount: String,
                enrollment: EnrollmentTable, policies: SecurityPolicyCache,
                listenerPairs: InboundListenerPairs = InboundListenerPairs(), logger: Logger) {
        self.policies = policies
        self.listenerPairs = listenerPairs
        self.datapath = datapath
        self.store = store
        self.node = node
        self.cgroupMount = cgroupMount
        self.enrollment = enrollment
        self.logger = logger
    }

    /// Reconciles on every new state, and also on a timer: a workload's cgroup
    /// may appear after its resource (a service starting later), and anyone with
    /// root may edit the maps. Retries are quick while something is wrong.
    public func run() async throws {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                // Generation 0 is "nothing loaded yet" (the API lists still running):
                // reconciling it would unenroll every workload.
                for await state in self.store.updates().cancelOnGracefulShutdown() where state.generation > 0 {
                    self.reconcile(state)
                }
            }
            group.addTask {
                while !Task.isShuttingDownGracefully && !Task.isCancelled {
                    let wrong = !self.problems.withLock { $0.isEmpty }
                    try? await Task.sleep(for: wrong ? .seconds(1) : .seconds(10))
                    let state = self.store.state
                    if state.generation > 0 { self.reconcile(state) }
                }
            }
            await group.next()
            group.cancelAll()
        }
    }

    private let passLock = Mutex(())

    /// One pass. Errors are per item: one bad workload never blocks the others.
    public func reconcile(_ state: MeshState) {
        passLock.withLock { _ in reconcileLocked(state) }
    }

    private func reconcileLocked(_ state: MeshState) {
        var issues: [String] = []
        let security = policies.policies(for: state)
        reconcileEnrollment(state, security: security, issues: &issues)
        reconcileCapture(state.config, issues: &issues)
        reconcileInbound(state, security: security, issues: &issues)
        reconcileMTLSOnly(state, security: security, issues: &issues)
        for issue in issues where !problems.withLock({ $0.contains(issue) }) {
            logger.error("\(issue)")
        }
        problems.withLock { $0 = issues }
    }

    private func reconcileEnrollment(_ state: MeshState, security: SecurityPolicies, issues: inout [String]) {
        var desired: [UInt64: (Workload, ferry_workload)] = [:]
        let pods = state.workloads.contains { $0.source == .pod && $0.cgroup == nil }
            ? PodCgroupLocator.discover(mount: cgroupMount) : nil
        for workload in state.workloads(onNode: node) {
            // Pods are found by UID under the kubelet's cgroup tree.
            let located = workload.cgroup == nil && workload.source == .pod
                ? workload.uid.flatMap { pods?.locate(podUID: $0)?.path } : nil
            guard let cgroup = workload.cgroup ?? located else { continue }
            // While ferryd is down: MeshConfig's failMode if set, else closed for
            // workloads under STRICT mTLS. (Connects to STRICT destinations are
            // refused either way: reconcileMTLSOnly.)
            let failClosed = state.config.failMode.map { $0 == .closed }
                ?? (security.peerAuthentication.mode(for: workload, port: 0) == .strict)
            let path = cgroupMount + cgroup
            do {
                let id = try CgroupFS.cgroupID(path: path)
                desired[id] = (workload, ferry_workload(
                    index: WorkloadIndex.of(workload), flags: failClosed ? FERRY_WORKLOAD_FAIL_CLOSED : 0
                ))
            } catch let error as BPFError {
                issues.append("workload \(workload.key): cgroup \(cgroup) cannot be enrolled: \(BPFError.explain(error.errno)) (\(path))")
            } catch {
                issues.append("workload \(workload.key): cgroup \(cgroup) cannot be enrolled: \(error)")
            }
        }
        for (id, entry) in desired {
            let existing = datapath.enrolled.lookup(id)
            if existing?.index == entry.1.index && existing?.flags == entry.1.flags { continue }
            do {
                try datapath.enrolled.update(id, entry.1)
                logger.info("enrolled workload", metadata: ["ferry.workload": "\(entry.0.key)", "ferry.cgroup": "\(entry.0.cgroup ?? "")"])
            } catch {
                issues.append("workload \(entry.0.key): \(error)")
            }
        }
        let previous = enrollment.all
        for id in datapath.enrolled.keys() where desired[id] == nil {
            do {
                try datapath.enrolled.delete(id)
                logger.info("unenrolled workload", metadata: ["ferry.workload": "\(previous[id]?.key ?? "cgroup \(id)")"])
            } catch {
                issues.append("unenroll cgroup \(id): \(error)")
            }
        }
        enrollment.replace(desired.mapValues(\.0))
        reconcileNames(desired.values.map(\.0), issues: &issues)
    }

    /// Names for the indexes in the kernel's tables, pinned so `ferryctl
    /// connections` can show them while ferryd is down.
    private func reconcileNames(_ workloads: [Workload], issues: inout [String]) {
        guard let names = datapath.workloadNames else { return }
        let desired = Dictionary(workloads.map { (WorkloadIndex.of($0), ferry_workload_name($0.key)) }, uniquingKeysWith: { a, _ in a })
        issues += names.sync(to: desired) { $0.text == $1.text }.map { "workload names: \($0)" }
    }

    private func reconcileCapture(_ config: MeshConfig, issues: inout [String]) {
        var desired: [ferry_cidr_key: UInt32] = [:]
        for cidr in config.captureCIDRs { desired[Self.key(cidr)] = 1 }
        for cidr in config.excludeCIDRs { desired[Self.key(cidr)] = 0 }
        issues += datapath.capture.sync(to: desired).map { "capture set: \($0)" }
        let ports = Dictionary(config.excludePorts.map { (UInt16($0), UInt8(1)) }, uniquingKeysWith: { a, _ in a })
        issues += datapath.excludedPorts.sync(to: ports).map { "excluded ports: \($0)" }
    }

    /// The ports of this node's workloads that sk_lookup steers to :15006 when a
    /// connection did not come through an agent: declared workload ports and the
    /// target ports of Services selecting them (never "every port": a VM's
    /// address is shared with SSH and the agent's own ports).
    /// The listener is the node's, or for a workload in a pod namespace of its
    /// own the pair `PodListeners` opened there (`InboundListenerPairs`).
    private func reconcileInbound(_ state: MeshState, security: SecurityPolicies, issues: inout [String]) {
        var desired: [ferry_inbound_key: ferry_inbound_value] = [:]
        let current = Dictionary(datapath.inbound.entries().map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
        for workload in state.workloads(onNode: node) {
            var ports = Set(workload.ports.values)
            for service in state.services(selecting: workload) {
                for port in service.ports { if let target = port.targetPort(on: workload) { ports.insert(target) } }
            }
            for address in workload.addresses {
                for port in ports {
                    let strict = security.peerAuthentication.mode(for: workload, port: port) == .strict
                    let key = ferry_inbound_key(addr: address.words, port: UInt16(port), _pad: 0)
                    desired[key] = ferry_inbound_value(
                        workload: WorkloadIndex.of(workload), flags: strict ? UInt16(FERRY_INBOUND_STRICT) : 0,
                        listener: listenerPairs.listener(for: workload.key, current: current[key]?.listener)
                    )
                }
            }
        }
        issues += datapath.inbound.sync(to: desired, current: current) { a, b in
            a.workload == b.workload && a.flags == b.flags && a.listener == b.listener
        }.map { "inbound ports: \($0)" }
    }

    /// Every address and port of the mesh that takes only mTLS, so the
    /// capture hook refuses plaintext to it while ferryd is down, whatever
    /// the client's own fail mode.
    private func reconcileMTLSOnly(_ state: MeshState, security: SecurityPolicies, issues: inout [String]) {
        let destinations = MTLSOnlyDestinations(state: state, peerAuthentication: security.peerAuthentication)
        var desired: [ferry_inbound_key: UInt8] = [:]
        for (key, strict) in destinations.entries {
            desired[ferry_inbound_key(addr: key.address.words, port: UInt16(key.port), _pad: 0)] = strict ? 1 : 0
        }
        issues += datapath.mtlsOnly.sync(to: desired).map { "mTLS-only destinations: \($0)" }
    }

    static func key(_ cidr: CIDR) -> ferry_cidr_key {
        ferry_cidr_key(prefixlen: UInt32(cidr.prefixLength), addr: cidr.network.words)
    }
}

/// A workload's number in the BPF maps: a hash of its key, so it is the same in
/// every ferryd run and `ferryctl` can match it without the agent.
public enum WorkloadIndex {
    public static func of(_ workload: Workload) -> UInt32 { of(key: workload.key) }

    /// FNV-1a, 32 bits.
    public static func of(key: String) -> UInt32 {
        var hash: UInt32 = 2_166_136_261
        for byte in key.utf8 {
            hash ^= UInt32(byte)
            hash = hash &* 16_777_619
        }
        return hash
    }
}

extension ferry_cidr_key: @retroactive Hashable, @retroactive Equatable, @retroactive @unchecked Sendable {
    public static func == (a: ferry_cidr_key, b: ferry_cidr_key) -> Bool {
        a.prefixlen == b.prefixlen && a.addr.0 == b.addr.0 && a.addr.1 == b.addr.1 && a.addr.2 == b.addr.2 && a.addr.3 == b.addr.3
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(prefixlen)
        hasher.combine(addr.0)
        hasher.combine(addr.1)
        hasher.combine(addr.2)
        hasher.combine(addr.3)
    }
}

extension ferry_inbound_key: @retroactive Hashable, @retroactive Equatable, @retroactive @unchecked Sendable {
    public static func == (a: ferry_inbound_key, b: ferry_inbound_key) -> Bool {
        a.port == b.port && a.addr.0 == b.addr.0 && a.addr.1 == b.addr.1 && a.addr.2 == b.addr.2 && a.addr.3 == b.addr.3
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(port)
        hasher.combine(addr.0)
        hasher.combine(addr.1)
        hasher.combine(addr.2)
        hasher.combine(addr.3)
    }
}
