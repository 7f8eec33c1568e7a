import FerryMesh
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// Keeps a node credential that the CA issued fresh, for agents that
/// authenticate with a token (`RemoteCertificateSource.nodeCredential(for:)`).
///
/// Renews half way through the validity the credential had on arrival, as
/// workload certificates are renewed; failures are retried with the schedule's
/// backoff while the old credential keeps serving. Each new credential goes to
/// `install` (the HBONE server's TLS context) before it becomes `current`.
public final class NodeCredentialRenewer: Service, Sendable {
    public let schedule: RenewalSchedule
    private let fetch: @Sendable () async throws -> NodeCredential
    private let install: @Sendable (NodeCredential) throws -> Void
    private let logger: Logger
    /// What renewals and retries wait on; tests pass a clock they move by hand.
    private let clock: any Clock<Duration>
    private let state: Mutex<(credential: NodeCredential, renewAt: Date, rotations: Int)>

    public init(initial: NodeCredential, schedule: RenewalSchedule = RenewalSchedule(), clock: any Clock<Duration> = ContinuousClock(),
                fetch: @escaping @Sendable () async throws -> NodeCredential,
                install: @escaping @Sendable (NodeCredential) throws -> Void, logger: Logger) {
        self.schedule = schedule
        self.clock = clock
        self.fetch = fetch
        self.install = install
        self.logger = logger
        state = Mutex((initial, Self.halfLife(of: initial), 0))
    }

    public var current: NodeCredential { state.withLock { $0.credential } }
    public var rotations: Int { state.withLock { $0.rotations } }

    public func run() async throws {
        await cancelWhenGracefulShutdown { await self.renewForever() }
    }

    private func renewForever() async {
        var failures = 0
        while !Task.isCancelled {
            let renewAt = state.withLock { $0.renewAt }
            let delay = failures == 0
                ? .milliseconds(Int64(max(renewAt.timeIntervalSinceNow, schedule.retryInitial.seconds) * 1000))
                : schedule.retryDelay(failures: failures)
            do { try await clock.sleep(for: delay) } catch { return }
            do {
                let credential = try await fetch()
                try install(credential)
                let renewAt = Self.halfLife(of: credential)
                state.withLock { $0 = (credential, renewAt, $0.rotations + 1) }
                failures = 0
                logger.info("node credential renewed", metadata: [
                    "ferry.serial": "\(credential.certificate.serialHex)",
                    "ferry.not_after": "\(credential.certificate.notValidAfter.ISO8601Format())",
                ])
            } catch {
                if Task.isCancelled { return }
                failures += 1
                let notAfter = current.certificate.notValidAfter
                logger.warning("node credential renewal failed: \(error)", metadata: [
                    "ferry.failures": "\(failures)", "ferry.not_after": "\(notAfter.ISO8601Format())",
                ])
            }
        }
    }

    static func halfLife(of credential: NodeCredential, now: Date = Date()) -> Date {
        now + max(0, credential.certificate.notValidAfter.timeIntervalSince(now)) / 2
    }
}
