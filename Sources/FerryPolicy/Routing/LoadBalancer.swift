import Synchronization

/// Round-robin choice per key (a MeshService), shared by all connections.
public final class LoadBalancer: Sendable {
    private let cursors = Mutex<[String: Int]>([:])

    public init() {}

    /// An index in 0..<count.
    public func pick(count: Int, key: String) -> Int {
        precondition(count > 0)
        return cursors.withLock { cursors in
            let next = cursors[key, default: 0]
            cursors[key] = (next + 1) % count
            return next % count
        }
    }
}
