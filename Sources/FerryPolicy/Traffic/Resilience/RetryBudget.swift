import Synchronization

/// Caps retries to one destination at a share of its recent requests, so
/// retries cannot multiply load on a backend that is already failing (the
/// retry storm Linkerd's and Finagle's budgets exist for).
///
/// Over a sliding window (10 s, in ten buckets) a retry is allowed while
/// retries ≤ ratio × requests + minRetriesPerSecond × window seconds: with the
/// defaults retries add at most 20% to load, and a quiet destination can
/// still retry 10 times a second. Only original requests count as requests;
/// only granted retries count as retries.
///
/// Time comes in as `now`, from any clock; give one budget one clock.
public final class RetryBudget<Instant: InstantProtocol<Duration>>: Sendable {
    public struct Settings: Sendable, Equatable {
        public var ratio: Double
        public var minRetriesPerSecond: Double
        public var window: Duration

        public init(ratio: Double = 0.2, minRetriesPerSecond: Double = 10, window: Duration = .seconds(10)) {
            self.ratio = ratio
            self.minRetriesPerSecond = minRetriesPerSecond
            self.window = window
        }
    }

    static var bucketCount: Int { 10 }

    private struct State {
        var settings: Settings
        let origin: Instant
        /// The bucket `now` falls in, counted from `origin`.
        var epoch = 0
        var requests = [Int](repeating: 0, count: RetryBudget.bucketCount)
        var retries = [Int](repeating: 0, count: RetryBudget.bucketCount)

        /// Moves the window to `now`, emptying buckets that fell out of it.
        mutating func advance(to now: Instant) {
            let width = settings.window / RetryBudget.bucketCount
            let target = max(Int((origin.duration(to: now) / width).rounded(.down)), epoch)
            for step in 0..<min(target - epoch, RetryBudget.bucketCount) {
                let slot = (epoch + step + 1) % RetryBudget.bucketCount
                requests[slot] = 0
                retries[slot] = 0
            }
            epoch = target
        }

        var allowance: Double {
            settings.ratio * Double(requests.reduce(0, +)) + settings.minRetriesPerSecond * settings.window.seconds
        }
    }

    private let state: Mutex<State>

    public init(settings: Settings = Settings(), now: Instant) {
        state = Mutex(State(settings: settings, origin: now))
    }

    /// Counts an original request (not a retry).
    public func recordRequest(now: Instant) {
        state.withLock { state in
            state.advance(to: now)
            state.requests[state.epoch % Self.bucketCount] += 1
        }
    }

    /// Takes one retry from the budget if it has one.
    public func tryRetry(now: Instant) -> Bool {
        state.withLock { state in
            state.advance(to: now)
            guard Double(state.retries.reduce(0, +) + 1) <= state.allowance else { return false }
            state.retries[state.epoch % Self.bucketCount] += 1
            return true
        }
    }

    /// Requests and retries counted in the window ending at `now`.
    public func usage(now: Instant) -> (requests: Int, retries: Int) {
        state.withLock { state in
            state.advance(to: now)
            return (state.requests.reduce(0, +), state.retries.reduce(0, +))
        }
    }
}
