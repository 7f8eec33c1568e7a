import FerryMesh
import FerryPolicy
import Testing

@Suite struct RetryPolicyTests {
    let policy = RetryPolicy(attempts: 2, codes: [503, 429], backoff: .milliseconds(100))

    @Test(arguments: [
        (UpstreamResult.response(status: 503), true), (.response(status: 429), true), (.response(status: 500), false),
        (.response(status: 200), false), (.response(status: 404), false), (.connectFailure, true), (.reset, true),
        (.timeout, true),
    ])
    func whatIsRetried(result: UpstreamResult, retried: Bool) {
        #expect(policy.isRetriable(result) == retried)
    }

    @Test func writtenRetryAndItsDefaults() {
        #expect(RetryPolicy(HTTPRoute.Retry()) == RetryPolicy(attempts: 2, codes: [], backoff: .milliseconds(25)))
        #expect(RetryPolicy(HTTPRoute.Retry(codes: [500], attempts: 0, backoff: .zero)) == RetryPolicy(attempts: 0, codes: [500], backoff: .zero))
    }

    @Test func decisionsInOrderOfTheReasons() {
        let budget = RetryBudget(now: TestInstant.zero)
        var rng = SeededGenerator(seed: 3)
        let now = TestInstant.zero
        func decide(_ result: UpstreamResult, retries: Int = 0, body: Int = 0) -> RetryDecision {
            policy.decide(after: result, retriesSoFar: retries, requestBodyBytes: body, budget: budget, now: now, using: &rng)
        }
        #expect(decide(.response(status: 200)) == .stop(.notRetriable))
        #expect(decide(.response(status: 503), retries: 2) == .stop(.attemptsExhausted))
        #expect(decide(.response(status: 503), body: 64 * 1024 + 1) == .stop(.bodyTooLarge))
        guard case .retry(let wait) = decide(.response(status: 503), body: 64 * 1024) else {
            Issue.record("a 64 KiB body may be replayed")
            return
        }
        #expect(wait >= .milliseconds(100) && wait <= .milliseconds(200))
        #expect(budget.usage(now: now).retries == 1, "a granted retry is counted")
        #expect(decide(.response(status: 200)) == .stop(.notRetriable))
        #expect(budget.usage(now: now).retries == 1, "a refused one is not")
    }

    @Test func backoffGrowsWithJitterNeverBelowTheMinimumAndCapsAtTenTimes() {
        var rng = SeededGenerator(seed: 11)
        let base = Duration.milliseconds(100)
        for retry in 1...6 {
            let ceiling = min(base * (1 << retry), base * 10)
            let waits = (0..<2_000).map { _ in policy.delay(beforeRetry: retry, using: &rng) }
            #expect(waits.allSatisfy { $0 >= base && $0 <= ceiling }, "retry \(retry)")
            #expect(waits.max()! > ceiling - (ceiling - base) / 10, "the jitter spans the range (retry \(retry))")
            #expect(Set(waits).count > 1_000, "jittered, not fixed")
        }
        #expect(RetryPolicy(backoff: .zero).delay(beforeRetry: 3, using: &rng) == .zero)
    }
}

@Suite struct RetryBudgetTests {
    /// Every request fails once and asks for a retry: at 1000 requests a second
    /// the budget lets through 20% (plus the small reserve for quiet times).
    @Test func retriesAreCappedAtTwentyPercentOfRequests() {
        let budget = RetryBudget(settings: .init(ratio: 0.2, minRetriesPerSecond: 10, window: .seconds(10)), now: TestInstant.zero)
        var granted = 0
        var asked = 0
        for millisecond in 0..<60_000 {
            let now = TestInstant.at(.milliseconds(millisecond))
            budget.recordRequest(now: now)
            asked += 1
            if budget.tryRetry(now: now) { granted += 1 }
        }
        // Over 60 s: 20% of 60,000 requests, plus at most 10/s × 10 s of reserve per window's worth.
        let share = Double(granted) / Double(asked)
        #expect(share >= 0.2 && share <= 0.2 + 0.02, "granted \(share)")
        // In any window the retries stay within the allowance.
        let usage = budget.usage(now: .at(.seconds(60)))
        #expect(Double(usage.retries) <= 0.2 * Double(usage.requests) + 100)
    }

    @Test func anExhaustedBudgetStopsRetriesUntilNewRequestsRefillIt() {
        let budget = RetryBudget(settings: .init(ratio: 0.2, minRetriesPerSecond: 1, window: .seconds(10)), now: TestInstant.zero)
        for _ in 0..<100 { budget.recordRequest(now: .at(.seconds(1))) }
        // 0.2 × 100 + 1/s × 10 s = 30 retries.
        let granted = (0..<50).filter { _ in budget.tryRetry(now: .at(.seconds(1))) }.count
        #expect(granted == 30)
        #expect(!budget.tryRetry(now: .at(.seconds(5))), "still exhausted within the window")
        // Eleven seconds on, the window has moved past those requests and retries.
        #expect(budget.tryRetry(now: .at(.seconds(12))), "the reserve is back")
        for _ in 0..<100 { budget.recordRequest(now: .at(.seconds(12))) }
        let later = (0..<50).filter { _ in budget.tryRetry(now: .at(.seconds(12))) }.count
        #expect(later == 29, "30 allowed in the new window, one already taken")
    }

    @Test func quietDestinationsStillGetTheReserve() {
        let budget = RetryBudget(now: TestInstant.zero)
        budget.recordRequest(now: .at(.seconds(1)))
        // One request would allow 0.2 retries; the reserve allows 10/s over the 10 s window.
        let granted = (0..<200).filter { _ in budget.tryRetry(now: .at(.seconds(1))) }.count
        #expect(granted == 100)
    }

    @Test func bucketsExpireOneAtATime() {
        let budget = RetryBudget(settings: .init(ratio: 1, minRetriesPerSecond: 0, window: .seconds(10)), now: TestInstant.zero)
        for second in 0..<10 { budget.recordRequest(now: .at(.seconds(second))) }
        #expect(budget.usage(now: .at(.milliseconds(9_999))).requests == 10)
        #expect(budget.usage(now: .at(.seconds(10))).requests == 9, "the first second's bucket left the window")
        #expect(budget.usage(now: .at(.seconds(15))).requests == 4)
        #expect(budget.usage(now: .at(.seconds(100))).requests == 0)
    }
}
