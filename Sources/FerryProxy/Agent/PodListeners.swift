import CLibBPF
import FerryBPF
import FerryHTTP
import FerryMesh
import Foundation
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization

/// ferryd's listeners inside workloads' own network namespaces, as ztunnel opens
/// them in pods.
///
/// - :15001 (outbound capture): the connect hooks redirect to 127.0.0.1:15001
///   *in the caller's namespace*, so a pod with its own loopback needs ferryd's
///   listener there; each pod gets its own, and the kernel keys their
///   connections by netns cookie, so two pods using 127.0.0.1:15001 never mix.
/// - :15006 (inbound plaintext): a pod receives its traffic in its own
///   namespace, where the node's sk_lookup program does not run. Each pod
///   namespace gets the program too (a link pinned under `pods/<inode>/`, so
///   STRICT ports stay closed to plaintext while ferryd is down) and a listener
///   pair of its own in `ferry_pod_listeners`; `InboundListenerPairs` tells the
///   reconciler which pair to write into the pod's `ferry_inbound` entries.
///
/// A workload's namespace comes from `ferry.dev/netns` (file source) or, for a
/// Kubernetes pod, from a process in the pod's cgroup.
public final class PodListeners: Service, Sendable {
    struct Namespace: Sendable {
        var path: String
        var channels: [Channel]
        /// The `ferry_inbound_value.listener` pair; nil when none was free.
        var pair: UInt16?
        var workloads: Set<String>
        /// Whether the sk_lookup link was attached (or taken over) by this run.
        var linked = false
    }

    private let context: ProxyContext
    private let group: EventLoopGroup
    private let cgroupMount: String
    private let port: Int
    private let inboundPort: Int
    private let datapath: FerryDatapath?
    private let pairs: InboundListenerPairs
    private let inboundChanged: @Sendable () -> Void
    /// Open namespaces by netns inode.
    private let open = Mutex<[UInt64: Namespace]>([:])
    private let ownNamespace: UInt64?
    private let passLock = Mutex(false)

    /// Without `datapath`, only the :15001 listeners are opened. `inboundChanged`
    /// runs once listener pairs are published and must write them into
    /// `ferry_inbound` before it returns (the reconciler's pass).
    public init(context: ProxyContext, group: EventLoopGroup, cgroupMount: String, port: Int = 15001,
                datapath: FerryDatapath? = nil, inboundPort: Int = 15006,
                pairs: InboundListenerPairs = InboundListenerPairs(), inboundChanged: @escaping @Sendable () -> Void = {}) {
        self.context = context
        self.group = group
        self.cgroupMount = cgroupMount
        self.port = port
        self.datapath = datapath
        self.inboundPort = inboundPort
        self.pairs = pairs
        self.inboundChanged = inboundChanged
        ownNamespace = Self.inode("/proc/self/ns/net")
    }

    public func run() async throws {
        await withTaskGroup(of: Void.self) { tasks in
            tasks.addTask {
                for await state in self.context.store.updates().cancelOnGracefulShutdown() {
                    await self.reconcile(state)
                }
            }
            // Pods start after their resources; look again while any is missing.
            tasks.addTask {
                while !Task.isShuttingDownGracefully && !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(2))
                    await self.reconcile(self.context.store.state)
                }
            }
            await tasks.next()
            tasks.cancelAll()
        }
        // The sk_lookup links stay pinned: with the listeners gone from the
        // SOCKMAP, STRICT ports are dropped until the next ferryd takes over.
        for (_, entry) in open.withLock({ $0 }) { for channel in entry.channels { try? await channel.close() } }
    }

    /// The namespaces of this node's workloads, by inode, with the workloads in each.
    func namespaces(_ state: MeshState) -> [UInt64: (path: String, workloads: Set<String>)] {
        var result: [UInt64: (path: String, workloads: Set<String>)] = [:]
        for workload in state.workloads(onNode: context.node) {
            let path = workload.netns ?? workload.uid.flatMap { podNamespace(uid: $0) }
            guard let path, let inode = Self.inode(path), inode != ownNamespace else { continue }
            result[inode, default: (path, [])].workloads.insert(workload.key)
        }
        return result
    }

    private func podNamespace(uid: String) -> String? {
        guard let pod = PodCgroupLocator.discover(mount: cgroupMount).locate(podUID: uid) else { return nil }
        return pod.networkNamespaces(mount: cgroupMount).first?.path
    }

    func reconcile(_ state: MeshState) async {
        // The update stream and the timer both reconcile; one pass at a time.
        while passLock.withLock({ busy in defer { busy = true }; return busy }) { try? await Task.sleep(for: .milliseconds(20)) }
        defer { passLock.withLock { $0 = false } }

        let wanted = namespaces(state)
        let current = open.withLock { $0 }
        for (inode, entry) in current where wanted[inode] == nil {
            open.withLock { _ = $0.removeValue(forKey: inode) }
            // The link first: from here on the namespace is not steered at all.
            detachInbound(inode: inode, path: entry.path)
            for channel in entry.channels { try? await channel.close() }
            context.logger.info("closed listeners in a workload namespace", metadata: ["ferry.netns": "\(entry.path)"])
        }
        for (inode, want) in wanted {
            if current[inode] != nil {
                open.withLock { $0[inode]?.workloads = want.workloads }
                continue
            }
            var entry = Namespace(path: want.path, channels: [], pair: nil, workloads: want.workloads)
            await openOutbound(&entry)
            if datapath != nil { await openInbound(&entry, state: state) }
            if !entry.channels.isEmpty || entry.pair != nil {
                open.withLock { $0[inode] = entry }
            }
        }
        // Generation 0 is "nothing listed yet": it must not clear pairs or pins.
        guard let datapath, state.generation > 0 else { return }
        let opened = open.withLock { $0 }
        var byWorkload: [String: UInt16] = [:]
        for entry in opened.values { if let pair = entry.pair { for key in entry.workloads { byWorkload[key] = pair } } }
        // ferry_inbound names each pod's pair before the program runs in the pod.
        if pairs.publish(byWorkload) { inboundChanged() }
        for (inode, entry) in opened where entry.pair != nil && !entry.linked {
            do {
                let attached = try datapath.attachInbound(networkNamespace: entry.path, inode: inode)
                open.withLock { $0[inode]?.linked = true }
                context.logger.info(attached ? "inbound capture attached to a workload namespace"
                                             : "inbound capture in a workload namespace taken over from the pinned link",
                                    metadata: ["ferry.netns": "\(entry.path)", "ferry.netns_inode": "\(inode)"])
            } catch {
                context.logger.error("cannot attach inbound capture to \(entry.path): \(error)")
            }
        }
        // Pins of namespaces that went away while ferryd was down.
        for inode in datapath.inboundNamespaces() where wanted[inode] == nil && opened[inode] == nil {
            detachInbound(inode: inode, path: "namespace \(inode)")
        }
    }

    private func openOutbound(_ entry: inout Namespace) async {
        var opened = 0
        for address in Listener.loopbacks(port: port) {
            do {
                let fd = try Self.listenInside(entry.path, address, marked: false)
                let channel = try await OutboundListener.bootstrap(context: context, group: group).withBoundSocket(fd).get()
                entry.channels.append(channel)
                opened += 1
            } catch where ListenerBinding.familyMissing(error) {
                // A namespace without IPv6 loopback still captures IPv4, and the reverse.
                context.logger.debug("\(ListenerBinding.notice(skipping: address, error)) in \(entry.path)")
            } catch {
                context.logger.error("cannot open a capture listener in \(entry.path): \(error)")
            }
        }
        if opened > 0 {
            context.logger.info("capture listener up in a workload namespace", metadata: ["ferry.netns": "\(entry.path)"])
        }
    }

    /// Opens the :15006 pair inside the namespace and registers it in
    /// `ferry_pod_listeners`; the kernel steers to it once the link is attached.
    private func openInbound(_ entry: inout Namespace, state: MeshState) async {
        guard let datapath else { return }
        let taken = Set(open.withLock { $0.values.compactMap(\.pair) })
        guard let pair = Self.choosePair(recorded: recordedPairs(entry.workloads, state: state), taken: taken) else {
            context.logger.error("no inbound listener pair left for \(entry.path): \(FerryDatapath.podListenerPairs) pod namespaces already have one")
            return
        }
        entry.pair = pair
        for address in Listener.loopbacks(port: inboundPort) {
            do {
                let fd = try Self.listenInside(entry.path, address, marked: true)
                let channel = try await InboundPlaintextListener.bootstrap(context: context, group: group).withBoundSocket(fd).get()
                entry.channels.append(channel)
                try datapath.registerPodListener(fd: fd, pair: pair, ipv6: address.isIPv6)
                context.logger.info("inbound plaintext listener up in a workload namespace",
                                    metadata: ["ferry.netns": "\(entry.path)", "ferry.address": "\(address)", "ferry.pair": "\(pair)"])
            } catch where ListenerBinding.familyMissing(error) {
                context.logger.debug("\(ListenerBinding.notice(skipping: address, error)) in \(entry.path)")
            } catch {
                context.logger.error("cannot open an inbound plaintext listener in \(entry.path): \(error)")
            }
        }
    }

    /// The pairs that `ferry_inbound` already names for these workloads'
    /// addresses: a previous ferryd's, taken over on restart.
    private func recordedPairs(_ workloads: Set<String>, state: MeshState) -> [UInt16] {
        guard let datapath else { return [] }
        let addresses = state.workloads.filter { workloads.contains($0.key) }.flatMap(\.addresses)
        var result: [UInt16] = []
        for (key, value) in datapath.inbound.entries() where value.listener != 0 {
            if addresses.contains(where: { ferry_inbound_key(addr: $0.words, port: key.port, _pad: 0) == key }) {
                result.append(value.listener)
            }
        }
        return result
    }

    /// A recorded pair that no other namespace holds, else the lowest free one.
    static func choosePair(recorded: [UInt16], taken: Set<UInt16>) -> UInt16? {
        if let reuse = recorded.first(where: { !taken.contains($0) && $0 <= FerryDatapath.podListenerPairs }) { return reuse }
        return (1...FerryDatapath.podListenerPairs).first { !taken.contains($0) }
    }

    private func detachInbound(inode: UInt64, path: String) {
        guard let datapath else { return }
        do {
            try datapath.detachInbound(inode: inode)
            context.logger.info("inbound capture detached from a workload namespace", metadata: ["ferry.netns": "\(path)"])
        } catch {
            context.logger.error("cannot detach inbound capture from \(path): \(error)")
        }
    }

    /// Creates a listening socket inside another network namespace: a thread
    /// enters it (setns changes only the calling thread), makes the socket, and
    /// the socket stays in that namespace when the thread leaves.
    static func listenInside(_ path: String, _ address: ListenAddress, marked: Bool) throws -> Int32 {
        let outcome = Mutex<Result<Int32, Error>?>(nil)
        let thread = Thread {
            outcome.withLock { $0 = Result { try enterAndListen(path, address, marked: marked) } }
        }
        thread.start()
        while outcome.withLock({ $0 == nil }) { usleep(1000) }
        return try outcome.withLock { $0! }.get()
    }

    private static func enterAndListen(_ path: String, _ address: ListenAddress, marked: Bool) throws -> Int32 {
        let target = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard target >= 0 else { throw Errno("open netns \(path)") }
        defer { close(target) }
        guard setns(target, FERRY_CLONE_NEWNET) == 0 else { throw Errno("enter netns \(path)") }
        // The thread ends here; it is never used for anything else, so it need
        // not go back to ferryd's namespace.
        return try RawListener.make(address, marked: marked)
    }

    static func inode(_ path: String) -> UInt64? {
        var info = stat()
        return stat(path, &info) == 0 ? UInt64(info.st_ino) : nil
    }
}
