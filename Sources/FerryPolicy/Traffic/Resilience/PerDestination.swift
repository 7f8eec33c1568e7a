import Synchronization

/// One long-lived instance per destination (`RouteBackend.destinationKey`):
/// the circuit breaker, outlier detector or retry budget the proxy keeps
/// across requests and snapshots. Instances are made on first use; update
/// their settings from the current snapshot at each use (their `update`
/// methods are cheap) and prune destinations that are gone.
public final class PerDestination<Value: AnyObject & Sendable>: Sendable {
    private let values = Mutex<[String: Value]>([:])

    public init() {}

    public func value(for key: String, make: () -> Value) -> Value {
        values.withLock { values in
            if let value = values[key] { return value }
            let value = make()
            values[key] = value
            return value
        }
    }

    /// Drops the instances of destinations not in `keys`.
    public func prune(keeping keys: Set<String>) {
        values.withLock { values in values = values.filter { keys.contains($0.key) } }
    }

    public var count: Int { values.withLock { $0.count } }
}
