/// Times decisions without letting the clock dominate what it measures.
///
/// Method: a decision takes a few hundred nanoseconds, about ten times what one
/// reading of the monotonic clock costs, so timing each decision alone would
/// mostly time the clock. Instead the requests are cut into consecutive batches
/// of `batch` decisions; each batch is timed with two clock readings and its
/// time divided by `batch`, which spreads the clock's cost to under a
/// nanosecond per decision. Each batch gives one sample of cost per decision,
/// and p50/p99 are taken over those samples. A batch mixes kinds of request
/// (L4, L7, allow, deny) in the shuffled order they arrive, so the percentiles
/// describe the mix, and p99 is the 99th percentile of batch averages: it shows
/// slow stretches (cache misses, preemption) rather than the single slowest
/// decision. One untimed pass first warms caches and the branch predictor.
struct DecisionTimer {
    var batch: Int

    struct Result {
        var decisions: Int
        var allowed: Int
        var p50: Double
        var p99: Double
        var mean: Double
    }

    func measure<Request>(_ requests: [Request], _ decide: (Request) -> Bool) -> Result {
        for request in requests { _ = decide(request) }
        let clock = ContinuousClock()
        var samples: [Double] = []
        samples.reserveCapacity(requests.count / batch + 1)
        var allowed = 0
        var start = 0
        while start + batch <= requests.count {
            let began = clock.now
            for index in start..<(start + batch) where decide(requests[index]) { allowed += 1 }
            let elapsed = began.duration(to: clock.now)
            samples.append(Self.nanoseconds(elapsed) / Double(batch))
            start += batch
        }
        samples.sort()
        let decisions = samples.count * batch
        return Result(
            decisions: decisions, allowed: allowed,
            p50: Self.percentile(samples, 0.50), p99: Self.percentile(samples, 0.99),
            mean: samples.reduce(0, +) / Double(max(1, samples.count))
        )
    }

    static func nanoseconds(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return Double(seconds) * 1e9 + Double(attoseconds) / 1e9
    }

    /// Nearest rank over sorted samples.
    static func percentile(_ sorted: [Double], _ quantile: Double) -> Double {
        guard !sorted.isEmpty else { return 0 }
        return sorted[min(sorted.count - 1, Int((Double(sorted.count) * quantile).rounded(.up)) - 1)]
    }
}
