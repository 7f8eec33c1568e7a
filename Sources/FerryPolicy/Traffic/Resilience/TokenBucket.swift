import Synchronization

/// A token bucket: holds at most `burst` tokens, refills at `ratePerSecond`
/// continuously, starts full; each admitted request takes one token. Over a
/// long run it admits `ratePerSecond` requests a second, plus the burst once.
public final class TokenBucket<Instant: InstantProtocol<Duration>>: Sendable {
    private struct State {
        var rate: Double
        var burst: Double
        var tokens: Double
        var updated: Instant

        mutating func refill(to now: Instant) {
            guard updated < now else { return }
            tokens = min(burst, tokens + rate * updated.duration(to: now).seconds)
            updated = now
        }
    }

    private let state: Mutex<State>

    public init(ratePerSecond: Double, burst: Double, now: Instant) {
        precondition(ratePerSecond > 0 && burst >= 1, "TokenBucket needs a positive rate and a burst of at least 1")
        state = Mutex(State(rate: ratePerSecond, burst: burst, tokens: burst, updated: now))
    }

    /// Takes a token if one is there.
    public func tryTake(now: Instant) -> Bool {
        state.withLock { state in
            state.refill(to: now)
            guard state.tokens >= 1 else { return false }
            state.tokens -= 1
            return true
        }
    }

    /// A changed limit applies from now; tokens above the new burst are dropped.
    public func update(ratePerSecond: Double, burst: Double, now: Instant) {
        state.withLock { state in
            state.refill(to: now)
            state.rate = ratePerSecond
            state.burst = burst
            state.tokens = min(state.tokens, burst)
        }
    }

    public func tokens(now: Instant) -> Double {
        state.withLock { state in
            state.refill(to: now)
            return state.tokens
        }
    }
}
