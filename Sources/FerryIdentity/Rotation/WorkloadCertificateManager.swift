import FerryMesh
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// Keeps one certificate per distinct identity of the workloads on this node.
///
/// Input: `updates`, an `AsyncStream<MeshState>` that starts with the current
/// state and yields every later one (`StateStore.updates()` does exactly this).
/// For each identity the manager makes a P-256 key on this node (keys never leave
/// it), sends only a CSR to the `CertificateSource`, and renews half way through
/// the validity the certificate had on arrival (a 20 s TTL renews every ~10 s).
/// The old credential keeps serving until the new one is in place; failures are
/// retried with backoff; identities whose workloads are gone are dropped.
///
/// Each identity has its own task, so a slow or failing one never delays the
/// others; all stop when `run()` ends (graceful shutdown, or the stream ends).
public final class WorkloadCertificateManager: Service, Sendable {
    public let node: String
    public let schedule: RenewalSchedule
    private let source: any CertificateSource
    private let updates: AsyncStream<MeshState>
    private let logger: Logger
    /// What renewals and retries wait on; tests pass a clock they move by hand.
    private let clock: any Clock<Duration>
    private let book = Mutex(Book())

    public init(source: any CertificateSource, node: String, updates: AsyncStream<MeshState>,
                schedule: RenewalSchedule = RenewalSchedule(), clock: any Clock<Duration> = ContinuousClock(),
                logger: Logger) {
        self.source = source
        self.node = node
        self.updates = updates
        self.schedule = schedule
        self.clock = clock
        var logger = logger
        logger[metadataKey: "ferry.node"] = "\(node)"
        self.logger = logger
    }

    public func run() async throws {
        for await state in updates.cancelOnGracefulShutdown() {
            reconcile(with: state)
        }
        let (tasks, waiters) = book.withLock { book in
            book.stopped = true
            defer { book.slots.removeAll(); book.waiters.removeAll() }
            return (book.slots.values.compactMap(\.task), Array(book.waiters.values))
        }
        for task in tasks { task.cancel() }
        for waiter in waiters { waiter.continuation.resume(throwing: CancellationError()) }
    }

    /// The current credential, if one is in place and not expired. Never waits.
    public func credential(for identity: SpiffeID) -> WorkloadCredential? {
        let credential = book.withLock { $0.slots[identity]?.credential }
        guard let credential, credential.notAfter > Date() else { return nil }
        return credential
    }

    /// The current credential, or the first one to arrive within `timeout` (for a
    /// connection that starts before its workload's certificate is there).
    public func waitForCredential(_ identity: SpiffeID, timeout: Duration) async throws -> WorkloadCredential {
        if let credential = credential(for: identity) { return credential }
        return try await withThrowingTaskGroup(of: WorkloadCredential.self) { group in
            group.addTask { try await self.nextCredential(identity) }
            group.addTask {
                try await Task.sleep(for: timeout)
                let lastError = self.book.withLock { $0.slots[identity]?.lastError }
                throw CredentialTimeout(identity: identity.uri, node: self.node, timeout: timeout, lastError: lastError)
            }
            defer { group.cancelAll() }
            return try await group.next()!
        }
    }

    public func statuses(now: Date = Date()) -> [CertificateStatus] {
        book.withLock { book in
            book.slots.map { identity, slot in
                CertificateStatus(
                    identity: identity.uri, serial: slot.credential?.serial ?? "",
                    notBefore: slot.credential?.notBefore, notAfter: slot.credential?.notAfter,
                    state: RenewalSchedule.state(of: slot.credential, lastError: slot.lastError, now: now),
                    rotations: slot.rotations, lastError: slot.lastError
                )
            }
        }.sorted { $0.identity < $1.identity }
    }

    // MARK: - Which identities

    func reconcile(with state: MeshState) {
        let wanted = Set(state.workloads(onNode: node).map { $0.identity(trustDomain: state.config.trustDomain) })
        let dropped: [SpiffeID] = book.withLock { book in
            guard !book.stopped else { return [] }
            let gone = book.slots.keys.filter { !wanted.contains($0) }
            for identity in gone { book.slots.removeValue(forKey: identity)?.task?.cancel() }
            for identity in wanted where book.slots[identity] == nil {
                book.slots[identity] = Slot(task: Task { await self.maintain(identity) })
            }
            return gone
        }
        for identity in dropped {
            logger.info("workload certificate dropped: no workload on this node has the identity any more",
                        metadata: ["ferry.identity": "\(identity)"])
        }
    }

    // MARK: - One identity

    private func maintain(_ identity: SpiffeID) async {
        var failures = 0
        while !Task.isCancelled {
            let delay: Duration
            do {
                let request = try WorkloadCSR(identity: identity)
                let chain = try await source.sign(csrPEM: request.pem, identity: identity)
                let credential = try WorkloadCredential(identity: identity, chain: chain, privateKey: request.privateKey)
                guard install(credential) else { return }
                failures = 0
                delay = schedule.renewalDelay(for: credential)
                logger.info("workload certificate issued", metadata: [
                    "ferry.identity": "\(identity)", "ferry.serial": "\(credential.serial)",
                    "ferry.not_after": "\(credential.notAfter.ISO8601Format())",
                    "ferry.renew_in": "\(delay)",
                ])
            } catch {
                if Task.isCancelled { return }
                failures += 1
                delay = schedule.retryDelay(failures: failures)
                let reason = "\(error)"
                book.withLock { $0.slots[identity]?.lastError = reason }
                logger.warning("workload certificate request failed: \(reason)", metadata: [
                    "ferry.identity": "\(identity)", "ferry.failures": "\(failures)", "ferry.retry_in": "\(delay)",
                ])
            }
            do { try await clock.sleep(for: delay) } catch { return }
        }
    }

    /// Puts the new credential in place and wakes waiters. False when the
    /// identity was dropped meanwhile.
    private func install(_ credential: WorkloadCredential) -> Bool {
        let waiting: [CheckedContinuation<WorkloadCredential, Error>]? = book.withLock { book in
            // A cancelled task's identity was dropped (and may have been re-added
            // with a task of its own since).
            guard !Task.isCancelled, var slot = book.slots[credential.identity] else { return nil }
            if slot.credential != nil { slot.rotations += 1 }
            slot.credential = credential
            slot.lastError = nil
            book.slots[credential.identity] = slot
            let ids = book.waiters.filter { $0.value.identity == credential.identity }.map(\.key)
            return ids.compactMap { book.waiters.removeValue(forKey: $0)?.continuation }
        }
        guard let waiting else { return false }
        for continuation in waiting { continuation.resume(returning: credential) }
        return true
    }

    private func nextCredential(_ identity: SpiffeID) async throws -> WorkloadCredential {
        let id = book.withLock { book in
            book.nextWaiter += 1
            return book.nextWaiter
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let outcome: Result<WorkloadCredential, Error>? = book.withLock { book in
                    if let credential = book.slots[identity]?.credential, credential.notAfter > Date() {
                        return .success(credential)
                    }
                    // Checked under the lock the cancellation handler also takes, so
                    // a cancellation is never missed.
                    if Task.isCancelled || book.stopped { return .failure(CancellationError()) }
                    book.waiters[id] = Waiter(identity: identity, continuation: continuation)
                    return nil
                }
                if let outcome { continuation.resume(with: outcome) }
            }
        } onCancel: {
            let waiter = book.withLock { $0.waiters.removeValue(forKey: id) }
            waiter?.continuation.resume(throwing: CancellationError())
        }
    }

    private struct Slot {
        var credential: WorkloadCredential?
        var rotations = 0
        var lastError: String?
        var task: Task<Void, Never>?
    }

    private struct Waiter {
        var identity: SpiffeID
        var continuation: CheckedContinuation<WorkloadCredential, Error>
    }

    private struct Book {
        var slots: [SpiffeID: Slot] = [:]
        var waiters: [Int: Waiter] = [:]
        var nextWaiter = 0
        var stopped = false
    }
}

/// No certificate for the identity arrived in time.
public struct CredentialTimeout: Error, Hashable, Sendable, CustomStringConvertible {
    public var identity: String
    public var node: String
    public var timeout: Duration
    public var lastError: String?

    public var description: String {
        let cause = lastError.map { "; last request failed: \($0)" }
            ?? "; no request has failed yet (is a workload with this identity on node \(node)?)"
        return "no certificate for \(identity) within \(timeout)\(cause)"
    }
}
