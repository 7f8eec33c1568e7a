import FerryMesh
import Logging
import ServiceLifecycle
import Synchronization

/// Watches the configuration directory and publishes each new valid state.
/// Problems are logged as one line each, with file and line; the affected files
/// keep their last good contents.
public final class ConfigWatcher: Service, Sendable {
    private let source: Mutex<FileSource>
    private let store: StateStore
    private let logger: Logger
    private let interval: Duration
    /// `ferry_config_reloads_total{result}`.
    public let reloads = Mutex<(success: Int, failure: Int)>((0, 0))
    /// The latest problems, for `/config_dump`.
    public let currentErrors = Mutex<[ResourceError]>([])

    public init(directory: String, store: StateStore, logger: Logger, interval: Duration = .milliseconds(200)) {
        self.source = Mutex(FileSource(directory: directory))
        self.store = store
        self.logger = logger
        self.interval = interval
    }

    /// Loads once; used at start-up so the first state is in place before
    /// listeners open.
    @discardableResult
    public func reloadNow() -> FileSource.Outcome {
        let outcome = source.withLock { $0.reload() }
        guard outcome.changed else { return outcome }
        currentErrors.withLock { $0 = outcome.errors }
        for error in outcome.errors {
            logger.error("configuration rejected: \(error)")
        }
        if let state = outcome.newState {
            reloads.withLock { outcome.errors.isEmpty ? ($0.success += 1) : ($0.failure += 1) }
            logger.info("configuration loaded", metadata: [
                "ferry.generation": "\(state.generation)", "ferry.workloads": "\(state.workloads.count)",
                "ferry.services": "\(state.services.count)",
            ])
            store.publish(state)
        } else {
            reloads.withLock { $0.failure += 1 }
        }
        return outcome
    }

    public func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            reloadNow()
            try? await Task.sleep(for: interval)
        }
    }
}
