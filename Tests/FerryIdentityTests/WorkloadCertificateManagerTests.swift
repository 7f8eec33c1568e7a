import FerryMesh
import Foundation
import Logging
import Testing

@testable import FerryIdentity

@Suite(.timeLimit(.minutes(1))) struct WorkloadCertificateManagerTests {
    let authority: CertificateAuthority
    let web = TestPKI.identity("demo", "web")
    let quiet = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

    init() throws {
        authority = try CertificateAuthority.generate(trustDomain: TestPKI.trustDomain)
    }

    @Test func renewsAtHalfLifeWhileTheOldCertificateKeepsServing() async throws {
        let state = try TestPKI.state(ttl: .seconds(4), workloads: [(namespace: "demo", serviceAccount: "web", node: "node-a")])
        let source = LocalCertificateSource(authority: authority, node: "node-a", state: { state })
        let (updates, input) = AsyncStream.makeStream(of: MeshState.self)
        let manager = WorkloadCertificateManager(source: source, node: "node-a", updates: updates, logger: quiet)
        input.yield(state)
        let running = Task { try await manager.run() }

        let first = try await manager.waitForCredential(web, timeout: .seconds(5))
        #expect(first.identity == web)
        #expect(manager.statuses().map(\.state) == ["valid"])

        // Until the renewal, every read returns a usable credential.
        var renewed: WorkloadCredential?
        while renewed == nil, Date() < first.notAfter {
            let current = try #require(manager.credential(for: web))
            if current.serial != first.serial { renewed = current }
            try await Task.sleep(for: .milliseconds(50))
        }
        let second = try #require(renewed, "no renewal before the first certificate expired")
        let renewedAfter = second.receivedAt.timeIntervalSince(first.receivedAt)
        // Half of the 4 s TTL; certificate times have whole seconds, so a little less.
        #expect(renewedAfter > 1.2 && renewedAfter < 3.0, "renewal should come at half of the 4 s TTL")
        #expect(second.receivedAt < first.notAfter)
        let status = try #require(manager.statuses().first)
        #expect(status.serial == second.serial && status.rotations == 1 && status.state == "valid")

        // The workload leaves the node: its credential goes.
        input.yield(try TestPKI.state(ttl: .seconds(4), workloads: []))
        while !manager.statuses().isEmpty { try await Task.sleep(for: .milliseconds(20)) }
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
