import FerryMesh
import Synchronization

/// Holds the current `MeshState` and tells subscribers when it changes. Readers on
/// the data path take the snapshot with one lock acquisition and keep no lock.
public final class StateStore: Sendable {
    private let current: Mutex<MeshState>
    private let subscribers = Mutex<[Int: AsyncStream<MeshState>.Continuation]>([:])
    private let nextSubscriber = Atomic<Int>(0)

    public init(_ initial: MeshState = .empty) {
        current = Mutex(initial)
    }

    public var state: MeshState { current.withLock { $0 } }

    public func publish(_ state: MeshState) {
        current.withLock { $0 = state }
        for continuation in subscribers.withLock({ Array($0.values) }) {
            continuation.yield(state)
        }
    }

    /// The current state first, then every later one (only the newest is kept if
    /// a subscriber falls behind).
    public func updates() -> AsyncStream<MeshState> {
        let (stream, continuation) = AsyncStream.makeStream(of: MeshState.self, bufferingPolicy: .bufferingNewest(1))
        let id = nextSubscriber.wrappingAdd(1, ordering: .relaxed).oldValue
        subscribers.withLock { $0[id] = continuation }
        continuation.onTermination = { [weak self] _ in
            _ = self?.subscribers.withLock { $0.removeValue(forKey: id) }
        }
        continuation.yield(state)
        return stream
    }

    public func finish() {
        for continuation in subscribers.withLock({ Array($0.values) }) { continuation.finish() }
    }
}
