import FerryKubernetes
import FerryMesh
import Foundation
import Logging
import Synchronization
import Testing

/// A `KubernetesSource` for node-a running against a fake API server, with
/// every published state recorded.
final class SourceHarness: Sendable {
    let server: FakeAPIServer
    let client: KubernetesClient
    let source: KubernetesSource
    private let published = StateRecorder()
    private let task: Mutex<Task<Void, Error>?> = Mutex(nil)

    static let testOptions = KubernetesSource.Options(
        pageSize: 2, coalesce: .milliseconds(50), watchTimeoutSeconds: 30...60,
        backoff: Backoff(initial: .milliseconds(20), maximum: .milliseconds(300))
    )

    init(server: FakeAPIServer, options: KubernetesSource.Options = testOptions) throws {
        self.server = server
        client = try KubernetesClient(credentials: ClusterCredentials(server: server.url, origin: "fake API server"))
        var logger = Logger(label: "ferry.kubernetes.test")
        logger.logLevel = ProcessInfo.processInfo.environment["FERRY_TEST_LOG"] == nil ? .critical : .debug
        let recorder = published
        source = KubernetesSource(client: client, node: "node-a", publish: { recorder.record($0) },
                                  logger: logger, options: options)
    }

    func start() {
        let source = source
        task.withLock { $0 = Task { try await source.run() } }
    }

    func stop() async throws {
        let running = task.withLock { $0 }
        running?.cancel()
        _ = try? await running?.value
        try await client.shutdown()
    }

    var states: [MeshState] { published.states }
    var latest: MeshState? { states.last }

    func status(_ kind: String) -> ReflectorStatus {
        source.status.first { $0.kind == kind } ?? ReflectorStatus(kind: kind)
    }

    /// Waits until the latest state satisfies `condition`; fails the test with
    /// `what` after `timeout`.
    @discardableResult
    func waitForState(_ what: String, timeout: Duration = .seconds(10), sourceLocation: SourceLocation = #_sourceLocation,
                      _ condition: (MeshState) -> Bool) async throws -> MeshState {
        try await waitUntil(what, timeout: timeout, sourceLocation: sourceLocation) {
            latest.map(condition) ?? false
        }
        return latest!
    }
}

final class StateRecorder: Sendable {
    private let recorded = Mutex<[MeshState]>([])
    func record(_ state: MeshState) { recorded.withLock { $0.append(state) } }
    var states: [MeshState] { recorded.withLock { $0 } }
}

/// The operation's result, or an error after `timeout`.
func withTimeout<T: Sendable>(_ timeout: Duration, _ operation: @escaping @Sendable () async -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { await operation() }
        group.addTask {
            try await Task.sleep(for: timeout)
            return nil
        }
        defer { group.cancelAll() }
        guard let result = try await group.next(), let value = result else { throw FakeServerError("timed out after \(timeout)") }
        return value
    }
}

/// Polls `condition` every 20 ms.
func waitUntil(_ what: String, timeout: Duration = .seconds(10), sourceLocation: SourceLocation = #_sourceLocation,
               _ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(20))
    }
    Issue.record("timed out after \(timeout) waiting for \(what)", sourceLocation: sourceLocation)
    throw FakeServerError("timed out waiting for \(what)")
}

extension MeshState {
    var workloadKeys: [String] { workloads.map(\.key) }
    var resourceKeys: [String] { resources.map(\.resource.key.description) }
}
