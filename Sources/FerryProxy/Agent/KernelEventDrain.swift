import CLibBPF
import FerryBPF
import FerryMesh
import FerryTelemetry
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// Reads the kernel's close records (`ferry_events`) and, once a second, the
/// live rows of the sockets the agent has claimed, and turns both into the
/// per-pair and per-node TCP series (`KernelSocketAccounting` →
/// `KernelSocketMetrics`). On a thread of its own: `ring_buffer__poll` blocks,
/// and neither the event loops nor Swift's cooperative pool may.
public final class KernelEventDrain: Service, Sendable {
    private let datapath: FerryDatapath
    private let owners: SocketOwners
    private let metrics: KernelSocketMetrics
    private let sourceOfIndex: @Sendable (UInt32) -> WorkloadPair?
    private let logger: Logger
    private let liveInterval: Duration
    private let stopping = Atomic<Bool>(false)

    /// `sourceOfIndex`: for a captured socket's record that no connection
    /// claimed (the agent restarted, or refused it before it knew more), the
    /// pair its workload index still names (destination unknown).
    public init(datapath: FerryDatapath, owners: SocketOwners, metrics: KernelSocketMetrics,
                sourceOfIndex: @escaping @Sendable (UInt32) -> WorkloadPair?, logger: Logger,
                liveInterval: Duration = .seconds(1)) {
        self.datapath = datapath
        self.owners = owners
        self.metrics = metrics
        self.sourceOfIndex = sourceOfIndex
        self.logger = logger
        self.liveInterval = liveInterval
    }

    public func run() async throws {
        let worker: Worker
        do {
            worker = try Worker(drain: self)
        } catch {
            // Without the buffer the agent still carries traffic; say why the
            // per-connection series stay empty, and keep running.
            logger.error("kernel close events unavailable", metadata: ["ferry.error": "\(error)"])
            try? await gracefulShutdown()
            return
        }
        await withGracefulShutdownHandler {
            await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                let thread = Thread {
                    worker.loop()
                    done.resume()
                }
                thread.name = "ferry-kernel-events"
                thread.start()
            }
        } onGracefulShutdown: {
            self.stopping.store(true, ordering: .relaxed)
        }
    }

    /// The thread's state: the reader and the accounting, touched by that
    /// thread only (the ring buffer's callback runs inside `poll`).
    private final class Worker: @unchecked Sendable {
        private let drain: KernelEventDrain
        private var accounting = KernelSocketAccounting()
        private var reader: RingBufferReader!
        private var lastLivePass = ContinuousClock.now

        init(drain: KernelEventDrain) throws {
            self.drain = drain
            reader = try RingBufferReader(pinned: drain.datapath.eventsPath) { [unowned self] bytes in self.read(bytes) }
        }

        func loop() {
            while !drain.stopping.load(ordering: .relaxed) {
                do {
                    // Records come without a wake-up unless the buffer fills:
                    // wait up to 100 ms, then take whatever is there.
                    try reader.poll(timeoutMilliseconds: 100)
                    try reader.consume()
                } catch {
                    drain.logger.error("reading kernel close events failed", metadata: ["ferry.error": "\(error)"])
                    Thread.sleep(forTimeInterval: 1)
                }
                let now = ContinuousClock.now
                drain.metrics.record(accounting.retry(now: now, owner: drain.owners.take, fallback: fallback))
                if now - lastLivePass >= drain.liveInterval {
                    lastLivePass = now
                    livePass()
                    drain.owners.prune(now: now)
                }
            }
            try? reader.consume()
        }

        private func read(_ bytes: UnsafeRawBufferPointer) {
            drain.metrics.eventRead()
            guard let event = KernelCloseEvent(bytes: bytes) else {
                drain.metrics.eventInvalid()
                drain.logger.debug("skipped a kernel close record of unexpected size",
                                   metadata: ["ferry.size": "\(bytes.count)", "ferry.expected": "\(KernelCloseEvent.recordSize)"])
                return
            }
            drain.metrics.record(accounting.closed(event, owner: drain.owners.take(event.cookie), now: .now))
        }

        /// The sockets the agent claimed, as the kernel has them now. Records
        /// read before this pass left the table before they were written, so
        /// nothing is counted twice.
        private func livePass() {
            var seen = Set<UInt64>()
            for (cookie, stats) in drain.datapath.connections.entries() {
                guard let owner = drain.owners.owner(of: cookie) else { continue }
                seen.insert(cookie)
                drain.metrics.record(accounting.live(KernelSocketState(cookie: cookie, stats: stats), owner: owner))
            }
            accounting.passEnded(seen: seen)
        }

        private func fallback(_ event: KernelCloseEvent) -> SocketOwner? {
            guard event.kind == .captured, let index = event.workloadIndex, let pair = drain.sourceOfIndex(index) else { return nil }
            return .pair(pair, .client)
        }
    }
}
