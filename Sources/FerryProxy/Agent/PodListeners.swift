import CLibBPF
import FerryBPF
import FerryMesh
import Foundation
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization

/// Capture listeners inside workloads' own network namespaces, as ztunnel opens
/// them in pods. The connect hooks redirect to 127.0.0.1:15001 *in the caller's
/// namespace*, so a pod with its own loopback needs ferryd's listener there;
/// each pod gets its own, and the kernel keys their connections by netns
/// cookie, so two pods using 127.0.0.1:15001 never mix.
///
/// A workload's namespace comes from `ferry.dev/netns` (file source) or, for a
/// Kubernetes pod, from a process in the pod's cgroup.
public final class PodListeners: Service, Sendable {
    private let context: ProxyContext
    private let group: EventLoopGroup
    private let cgroupMount: String
    private let port: Int
    /// Listening channels by netns inode.
    private let open = Mutex<[UInt64: (path: String, channels: [Channel])]>([:])
    private let ownNamespace: UInt64?

    public init(context: ProxyContext, group: EventLoopGroup, cgroupMount: String, port: Int = 15001) {
        self.context = context
        self.group = group
        self.cgroupMount = cgroupMount
        self.port = port
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
        for (_, entry) in open.withLock({ $0 }) { for channel in entry.channels { try? await channel.close() } }
    }

    /// The namespaces of this node's workloads, by inode.
    func namespaces(_ state: MeshState) -> [UInt64: String] {
        var result: [UInt64: String] = [:]
        for workload in state.workloads(onNode: context.node) {
            let path = workload.netns ?? workload.uid.flatMap { podNamespace(uid: $0) }
            guard let path, let inode = Self.inode(path), inode != ownNamespace else { continue }
            result[inode] = path
        }
        return result
    }

    private func podNamespace(uid: String) -> String? {
        guard let pod = PodCgroupLocator.discover(mount: cgroupMount).locate(podUID: uid) else { return nil }
        return pod.networkNamespaces(mount: cgroupMount).first?.path
    }

    func reconcile(_ state: MeshState) async {
        let wanted = namespaces(state)
        let current = open.withLock { $0 }
        for (inode, entry) in current where wanted[inode] == nil {
            open.withLock { _ = $0.removeValue(forKey: inode) }
            for channel in entry.channels { try? await channel.close() }
            context.logger.info("closed capture listener in a workload namespace", metadata: ["ferry.netns": "\(entry.path)"])
        }
        for (inode, path) in wanted where current[inode] == nil {
            var channels: [Channel] = []
            for host in ["127.0.0.1", "::1"] {
                do {
                    let fd = try Self.listenInside(path, host: host, port: port)
                    let channel = try await OutboundListener.bootstrap(context: context, group: group).withBoundSocket(fd).get()
                    channels.append(channel)
                } catch where host.contains(":") {
                    // A namespace without IPv6 loopback still captures IPv4.
                } catch {
                    context.logger.error("cannot open a capture listener in \(path): \(error)")
                }
            }
            if !channels.isEmpty {
                open.withLock { $0[inode] = (path, channels) }
                context.logger.info("capture listener up in a workload namespace", metadata: ["ferry.netns": "\(path)"])
            }
        }
    }

    /// Creates a listening socket inside another network namespace: a thread
    /// enters it (setns changes only the calling thread), makes the socket, and
    /// the socket stays in that namespace when the thread leaves.
    static func listenInside(_ path: String, host: String, port: Int) throws -> Int32 {
        let outcome = Mutex<Result<Int32, Error>?>(nil)
        let thread = Thread {
            outcome.withLock { $0 = Result { try enterAndListen(path, host: host, port: port) } }
        }
        thread.start()
        while outcome.withLock({ $0 == nil }) { usleep(1000) }
        return try outcome.withLock { $0! }.get()
    }

    private static func enterAndListen(_ path: String, host: String, port: Int) throws -> Int32 {
        let target = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard target >= 0 else { throw RawListener.Failure(description: "open netns \(path): \(String(cString: strerror(errno)))") }
        defer { close(target) }
        guard setns(target, FERRY_CLONE_NEWNET) == 0 else {
            throw RawListener.Failure(description: "enter netns \(path): \(String(cString: strerror(errno)))")
        }
        // The thread ends here; it is never used for anything else, so it need
        // not go back to ferryd's namespace.
        return try RawListener.make(host: host, port: port, marked: false)
    }

    static func inode(_ path: String) -> UInt64? {
        var info = stat()
        return stat(path, &info) == 0 ? UInt64(info.st_ino) : nil
    }
}
