/// Capped exponential backoff with jitter, for reconnecting to the API server.
/// Each agent of a cluster waits a different time, so a restarted API server is
/// not met by every node at the same instant.
public struct Backoff: Sendable, Hashable {
    public var initial: Duration
    public var maximum: Duration

    public init(initial: Duration = .milliseconds(500), maximum: Duration = .seconds(30)) {
        precondition(initial > .zero && maximum >= initial)
        self.initial = initial
        self.maximum = maximum
    }

    /// The longest wait after `failures` consecutive failures (1 or more):
    /// initial, 2×, 4×… up to `maximum`.
    public func ceiling(afterFailures failures: Int) -> Duration {
        var ceiling = initial
        for _ in 1..<max(failures, 1) {
            ceiling *= 2
            if ceiling >= maximum { return maximum }
        }
        return min(ceiling, maximum)
    }

    /// A wait uniformly between half the ceiling and the ceiling: spread out,
    /// yet never so short that a failing server is hammered.
    public func delay(afterFailures failures: Int, using random: inout some RandomNumberGenerator) -> Duration {
        let ceiling = ceiling(afterFailures: failures)
        let nanoseconds = ceiling.components.seconds * 1_000_000_000 + ceiling.components.attoseconds / 1_000_000_000
        return .nanoseconds(Int64.random(in: (nanoseconds / 2)...nanoseconds, using: &random))
    }
}
