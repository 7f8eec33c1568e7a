import FerryMesh
import Synchronization

/// Enforces RateLimit resources on a node: one token bucket per destination
/// workload, kept across MeshState snapshots (a changed limit updates the
/// bucket in place rather than refilling it). See `RateLimit` for the model.
public final class LocalRateLimiter<Instant: InstantProtocol<Duration>>: Sendable {
    /// Envoy's response flag for a rate-limited request (answered with 429).
    public static var responseFlag: String { "RL" }

    private let buckets = Mutex<[String: TokenBucket<Instant>]>([:])

    public init() {}

    /// Whether a request to `workload` may go ahead; true when no RateLimit
    /// applies to it.
    public func admit(_ workload: Workload, in state: MeshState, now: Instant) -> Bool {
        guard let limit = state.rateLimit(for: workload) else { return true }
        let rate = Double(limit.requestsPerSecond), burst = Double(limit.burst)
        let bucket = buckets.withLock { buckets in
            if let bucket = buckets[workload.key] {
                bucket.update(ratePerSecond: rate, burst: burst, now: now)
                return bucket
            }
            let bucket = TokenBucket(ratePerSecond: rate, burst: burst, now: now)
            buckets[workload.key] = bucket
            return bucket
        }
        return bucket.tryTake(now: now)
    }

    /// Drops buckets of workloads the state no longer limits.
    public func prune(keeping state: MeshState) {
        buckets.withLock { buckets in
            buckets = buckets.filter { key, _ in state.workload(key: key).flatMap(state.rateLimit(for:)) != nil }
        }
    }
}
