import Crypto
import Synchronization

/// Remembers accepted tokens for a while, and asks once for a token that many
/// requests present at the same time. An agent starting on a busy node asks
/// for a certificate per pod at once, each with the same token; without this
/// every one of them is a TokenReview against the API server. The API server's
/// own webhook token authenticator caches accepted tokens the same way (two
/// minutes by default).
///
/// Refusals are never cached: a token that is refused now (the reviewer was
/// unreachable, the pod not yet scheduled) may be good a moment later. Tokens
/// are keyed by their SHA-256, so the cache holds no token itself.
public final class CachedBearerAuthenticator<Clock: _Concurrency.Clock>: BearerAuthenticator
where Clock.Duration == Duration {
    private let reviewer: any BearerAuthenticator
    private let ttl: Duration
    private let capacity: Int
    private let clock: Clock
    private let state = Mutex(State())

    private enum Lookup { case cached(BearerCaller), review(Task<Result<BearerCaller, BearerRefusal>, Never>) }

    private struct State {
        var accepted: [SHA256Digest: (caller: BearerCaller, until: Clock.Instant)] = [:]
        var inFlight: [SHA256Digest: Task<Result<BearerCaller, BearerRefusal>, Never>] = [:]
    }

    public init(_ reviewer: any BearerAuthenticator, ttl: Duration = .seconds(60), capacity: Int = 4096, clock: Clock) {
        self.reviewer = reviewer
        self.ttl = ttl
        self.capacity = capacity
        self.clock = clock
    }

    public func authenticate(token: String) async -> Result<BearerCaller, BearerRefusal> {
        let key = SHA256.hash(data: Array(token.utf8))
        let now = clock.now
        let lookup = state.withLock { state -> Lookup in
            if let hit = state.accepted[key], now < hit.until { return .cached(hit.caller) }
            if let running = state.inFlight[key] { return .review(running) }
            let task = Task { [reviewer] in await reviewer.authenticate(token: token) }
            state.inFlight[key] = task
            return .review(task)
        }
        let review: Task<Result<BearerCaller, BearerRefusal>, Never>
        switch lookup {
        case .cached(let caller): return .success(caller)
        case .review(let task): review = task
        }
        let result = await review.value
        state.withLock { state in
            state.inFlight[key] = nil
            guard case .success(let caller) = result else { return }
            if state.accepted.count >= capacity { evict(&state, now: clock.now) }
            state.accepted[key] = (caller, clock.now.advanced(by: ttl))
        }
        return result
    }

    /// Makes room: expired entries go first, then the ones closest to expiry.
    private func evict(_ state: inout State, now: Clock.Instant) {
        state.accepted = state.accepted.filter { now < $0.value.until }
        while state.accepted.count >= capacity, let soonest = state.accepted.min(by: { $0.value.until < $1.value.until }) {
            state.accepted[soonest.key] = nil
        }
    }
}

extension CachedBearerAuthenticator where Clock == ContinuousClock {
    public convenience init(_ reviewer: any BearerAuthenticator, ttl: Duration = .seconds(60), capacity: Int = 4096) {
        self.init(reviewer, ttl: ttl, capacity: capacity, clock: ContinuousClock())
    }
}
