import FerryMesh
import Foundation
import Logging
import Synchronization
import Testing

@testable import FerryIdentity

@Suite(.timeLimit(.minutes(1))) struct WorkloadCertificateManagerTests {
    let authority: CertificateAuthority
    let web = TestPKI.identity("demo", "web")
    let quiet = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

    init() throws {
        authority = try CertificateAuthority.generate(trustDomain: TestPKI.trustDomain)
    }

    /// The renewal is scheduled on the manager's clock, so the test reads the
    /// schedule and moves time rather than sleeping through a TTL.
    @Test func renewsAtHalfLifeWhileTheOldCertificateKeepsServing() async throws {
        let state = try TestPKI.state(ttl: .seconds(4), workloads: [(namespace: "demo", serviceAccount: "web", node: "node-a")])
        let source = LocalCertificateSource(authority: authority, node: "node-a", state: { state })
        let (updates, input) = AsyncStream.makeStream(of: MeshState.self)
        let clock = ManualClock()
        let manager = WorkloadCertificateManager(source: source, node: "node-a", updates: updates, clock: clock, logger: quiet)
        input.yield(state)
        let running = Task { try await manager.run() }

        let first = try await manager.waitForCredential(web, timeout: .seconds(5))
        #expect(first.identity == web)
        #expect(manager.statuses().map(\.state) == ["valid"])

        // Half of the 4 s TTL; certificate times have whole seconds: within half a second of it.
        #expect(try await eventually { !clock.sleepers.isEmpty })
        let wait = try #require(clock.sleepers.first)
        #expect(wait >= .milliseconds(1500) && wait <= .milliseconds(2500), "renewal scheduled after \(wait)")
        clock.advance(by: wait - .milliseconds(100))
        #expect(manager.credential(for: web)?.serial == first.serial, "the first keeps serving until the renewal")
        clock.advance(by: .milliseconds(100))
        #expect(try await eventually { manager.credential(for: web)?.serial != first.serial }, "renewed once the time came")
        let second = try #require(manager.credential(for: web))
        #expect(second.receivedAt < first.notAfter)
        let status = try #require(manager.statuses().first)
        #expect(status.serial == second.serial && status.rotations == 1 && status.state == "valid")

        // The workload leaves the node: its credential goes.
        input.yield(try TestPKI.state(ttl: .seconds(4), workloads: []))
        #expect(try await eventually { manager.statuses().isEmpty })
        #expect(manager.credential(for: web) == nil)

        input.finish()
        try await running.value
    }

    @Test func refusalsShowAsErrorsAndWaitingTimesOutWithTheReason() async throws {
        let state = try TestPKI.state(workloads: [(namespace: "demo", serviceAccount: "web", node: "node-a")])
        // The CA thinks this agent is node-b: every request is refused.
        let source = LocalCertificateSource(authority: authority, node: "node-b", state: { state })
        let (updates, input) = AsyncStream.makeStream(of: MeshState.self)
        let manager = WorkloadCertificateManager(source: source, node: "node-a", updates: updates,
                                                 schedule: RenewalSchedule(retryInitial: .milliseconds(100)), logger: quiet)
        input.yield(state)
        let running = Task { try await manager.run() }

        let timeout = await #expect(throws: CredentialTimeout.self) {
            try await manager.waitForCredential(web, timeout: .milliseconds(600))
        }
        #expect(timeout?.lastError == "the embedded CA refused: node node-b has no workload with identity \(web.uri)")
        let status = try #require(manager.statuses().first)
        #expect(status.state == "error: the embedded CA refused: node node-b has no workload with identity \(web.uri)")
        #expect(status.serial.isEmpty && status.notAfter == nil)

        input.finish()
        try await running.value
    }

    @Test func waitersAreWokenByTheFirstCertificate() async throws {
        let state = try TestPKI.state(workloads: [(namespace: "demo", serviceAccount: "web", node: "node-a")])
        let source = LocalCertificateSource(authority: authority, node: "node-a", state: { state })
        let (updates, input) = AsyncStream.makeStream(of: MeshState.self)
        let manager = WorkloadCertificateManager(source: source, node: "node-a", updates: updates, logger: quiet)
        // Waiting starts before the manager knows of any workload.
        async let waited = manager.waitForCredential(web, timeout: .seconds(5))
        let running = Task { try await manager.run() }
        try await Task.sleep(for: .milliseconds(100))
        input.yield(state)
        let credential = try await waited
        #expect(credential.serial == manager.credential(for: web)?.serial)
        input.finish()
        try await running.value
    }
}

@Suite struct RenewalScheduleTests {
    @Test func backoffDoublesUpToTheMaximum() {
        let schedule = RenewalSchedule(retryInitial: .milliseconds(500), retryMaximum: .seconds(4))
        let delays = (1...6).map { schedule.retryDelay(failures: $0, jitter: 0) }
        #expect(delays == [.milliseconds(500), .seconds(1), .seconds(2), .seconds(4), .seconds(4), .seconds(4)])
        #expect(schedule.retryDelay(failures: 1, jitter: 0.2) == .milliseconds(600))
    }

    @Test func renewalIsHalfOfTheValidityLeftOnArrival() throws {
        let authority = try CertificateAuthority.generate(trustDomain: TestPKI.trustDomain)
        let credential = try TestPKI.workloadCredential(authority, TestPKI.identity("demo", "web"), ttl: .seconds(20))
        // Not half of notBefore...notAfter: notBefore is a minute in the past.
        #expect(abs(credential.renewAt.timeIntervalSince(credential.receivedAt) - 10) < 1.1)
        let schedule = RenewalSchedule()
        #expect(abs(schedule.renewalDelay(for: credential, now: credential.receivedAt).seconds - 10) < 1.1)
        // Past the renewal point the delay is short but never zero.
        #expect(schedule.renewalDelay(for: credential, now: credential.notAfter) == schedule.retryInitial)

        #expect(RenewalSchedule.state(of: credential, lastError: nil, now: credential.receivedAt) == "valid")
        #expect(RenewalSchedule.state(of: credential, lastError: nil, now: credential.renewAt + 1) == "expiring")
        #expect(RenewalSchedule.state(of: credential, lastError: nil, now: credential.notAfter + 1) == "expired")
        #expect(RenewalSchedule.state(of: nil, lastError: nil) == "pending")
        #expect(RenewalSchedule.state(of: nil, lastError: "boom") == "error: boom")
    }
}

/// A node credential from the CA is renewed half way through its validity,
/// on the renewer's clock; a failed renewal is retried with backoff while the
/// old one keeps serving.
@Suite(.timeLimit(.minutes(1))) struct NodeCredentialRenewerTests {
    struct Unavailable: Error {}

    @Test func renewsAtHalfLifeAndRetriesAFailure() async throws {
        let authority = try CertificateAuthority.generate(trustDomain: TestPKI.trustDomain)
        let initial = try authority.issueNodeCredential(node: "node-a", validity: .seconds(60))
        let clock = ManualClock()
        let attempts = Atomic<Int>(0)
        let installed = Mutex<[String]>([])
        let renewer = NodeCredentialRenewer(
            initial: initial, schedule: RenewalSchedule(retryInitial: .seconds(1)), clock: clock,
            fetch: {
                if attempts.wrappingAdd(1, ordering: .relaxed).newValue == 1 { throw Unavailable() }
                return try authority.issueNodeCredential(node: "node-a", validity: .seconds(60))
            },
            install: { credential in installed.withLock { $0.append(credential.certificate.serialHex) } },
            logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
        )
        let running = Task { try await renewer.run() }
        defer { running.cancel() }

        #expect(try await eventually { !clock.sleepers.isEmpty })
        let wait = try #require(clock.sleepers.first)
        #expect(wait >= .seconds(29) && wait <= .seconds(31), "half of 60 s: \(wait)")
        clock.advance(by: wait)
        #expect(try await eventually { attempts.load(ordering: .relaxed) == 1 && !clock.sleepers.isEmpty })
        let retry = try #require(clock.sleepers.first)
        #expect(retry >= .milliseconds(800) && retry <= .milliseconds(1200), "the first retry after 1 s ± 20 %: \(retry)")
        #expect(renewer.current.certificate == initial.certificate && renewer.rotations == 0, "the old one keeps serving")
        clock.advance(by: retry)
        #expect(try await eventually { renewer.rotations == 1 })
        #expect(renewer.current.certificate != initial.certificate)
        #expect(installed.withLock { $0 } == [renewer.current.certificate.serialHex], "installed before it became current")
    }
}
