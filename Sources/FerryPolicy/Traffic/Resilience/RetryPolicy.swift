import FerryMesh

/// When and how soon to retry, from an HTTPRoute rule's `retry` (Gateway API
/// v1.2 HTTPRouteRetry):
///
/// - Retried: responses whose status is in `codes`, and failures where no
///   response came back: connect failures, resets, per-attempt timeouts
///   (Gateway API's HTTPRouteRetryConnectionError; safe for connect failures,
///   which never reached the backend, and what Envoy's `5xx`/`reset` do for
///   the rest). Nothing is retried without a `retry` stanza.
/// - `attempts` counts retries after the first try (default 2, Istio's).
/// - Backoff: the n-th retry waits a random time in [base, base × 2^n], capped
///   at 10 × base, never less than base (Gateway API: never sooner than the
///   configured backoff). base defaults to 25 ms, Envoy's.
/// - A request whose body is over 64 KiB is never retried: the proxy keeps at
///   most that much to replay.
/// - Each retry must also be allowed by the destination's `RetryBudget`.
public struct RetryPolicy: Sendable, Equatable {
    public static let defaultAttempts = 2
    public static let defaultBackoff = Duration.milliseconds(25)
    public static let maxReplayableBodyBytes = 64 * 1024

    public var attempts: Int
    public var codes: Set<Int>
    public var backoff: Duration

    public init(attempts: Int = defaultAttempts, codes: Set<Int> = [], backoff: Duration = defaultBackoff) {
        self.attempts = attempts
        self.codes = codes
        self.backoff = backoff
    }

    public init(_ retry: HTTPRoute.Retry) {
        self.init(attempts: retry.attempts ?? Self.defaultAttempts, codes: Set(retry.codes),
                  backoff: retry.backoff ?? Self.defaultBackoff)
    }

    public func isRetriable(_ result: UpstreamResult) -> Bool {
        switch result {
        case .response(let status): codes.contains(status)
        case .connectFailure, .reset, .timeout: true
        }
    }

    /// Whether to retry after an attempt ended with `result`.
    ///
    /// - Parameters:
    ///   - retriesSoFar: retries already made for this request (0 after the first try).
    ///   - requestBodyBytes: the body's size; pass `Int.max` when it was streamed
    ///     and is not fully kept.
    ///   - budget: the destination's budget; consulted last, and only a granted
    ///     retry is counted against it.
    public func decide<R: RandomNumberGenerator, Instant>(
        after result: UpstreamResult, retriesSoFar: Int, requestBodyBytes: Int, budget: RetryBudget<Instant>,
        now: Instant, using rng: inout R
    ) -> RetryDecision {
        guard isRetriable(result) else { return .stop(.notRetriable) }
        guard retriesSoFar < attempts else { return .stop(.attemptsExhausted) }
        guard requestBodyBytes <= Self.maxReplayableBodyBytes else { return .stop(.bodyTooLarge) }
        guard budget.tryRetry(now: now) else { return .stop(.budgetExhausted) }
        return .retry(after: delay(beforeRetry: retriesSoFar + 1, using: &rng))
    }

    /// The wait before the n-th retry (n ≥ 1).
    public func delay<R: RandomNumberGenerator>(beforeRetry n: Int, using rng: inout R) -> Duration {
        guard backoff > .zero else { return .zero }
        let ceiling = min(backoff * (1 << min(n, 20)), backoff * 10)
        let span = (ceiling - backoff) / Self.nanosecond
        return backoff + Self.nanosecond * Double.random(in: 0...max(span, 0), using: &rng).rounded(.down)
    }

    private static let nanosecond = Duration.nanoseconds(1)
}

public enum RetryDecision: Sendable, Equatable {
    case retry(after: Duration)
    case stop(Reason)

    public enum Reason: String, Sendable {
        /// The result is a success or a failure this rule does not retry.
        case notRetriable
        case attemptsExhausted
        /// Over 64 KiB: not kept for replay.
        case bodyTooLarge
        /// Retries to the destination already add 20% to its requests.
        case budgetExhausted
    }
}
