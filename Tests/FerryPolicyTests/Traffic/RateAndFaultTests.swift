import FerryMesh
import FerryPolicy
import Testing

@Suite struct TokenBucketTests {
    @Test(arguments: [(rate: 100.0, burst: 100.0), (rate: 7.0, burst: 1.0), (rate: 2_500.0, burst: 50.0)])
    func admitsTheRateWithinOnePercentOverSimulatedTime(rate: Double, burst: Double) {
        let bucket = TokenBucket(ratePerSecond: rate, burst: burst, now: TestInstant.zero)
        // Offered far above the limit: a request every 100 µs for 100 s.
        var admitted = 0
        let seconds = 100.0
        for tick in 0..<1_000_000 where bucket.tryTake(now: .at(.microseconds(tick * 100))) { admitted += 1 }
        let expected = rate * seconds + burst
        #expect(abs(Double(admitted) - expected) <= expected * 0.01, "admitted \(admitted), expected \(expected)")
    }

    @Test func startsFullAndRefillsUpToTheBurst() {
        let bucket = TokenBucket(ratePerSecond: 10, burst: 5, now: TestInstant.zero)
        #expect((0..<10).filter { _ in bucket.tryTake(now: .zero) }.count == 5, "the burst at once")
        #expect(!bucket.tryTake(now: .at(.milliseconds(99))))
        #expect(bucket.tryTake(now: .at(.milliseconds(100))), "one token per 100 ms")
        #expect(bucket.tokens(now: .at(.seconds(60))) == 5, "never more than the burst")
    }

    @Test func aNewLimitAppliesFromNow() {
        let bucket = TokenBucket(ratePerSecond: 10, burst: 10, now: TestInstant.zero)
        bucket.update(ratePerSecond: 1, burst: 2, now: .zero)
        #expect(bucket.tokens(now: .zero) == 2)
        #expect((0..<5).filter { _ in bucket.tryTake(now: .zero) }.count == 2)
        #expect(!bucket.tryTake(now: .at(.milliseconds(999))))
        #expect(bucket.tryTake(now: .at(.seconds(1))))
    }
}

@Suite struct LocalRateLimiterTests {
    @Test func eachWorkloadHasItsOwnBucketAndItsOwnLimitFirst() throws {
        let state = try meshState(Bookinfo.yaml + """

        ---
        apiVersion: networking.istio.io/v1
        kind: WorkloadEntry
        metadata: {name: reviews-pod-2, namespace: demo, labels: {app: reviews}}
        spec: {address: 198.18.2.1}
        ---
        apiVersion: ferry.dev/v1alpha1
        kind: RateLimit
        metadata: {name: reviews, namespace: demo}
        spec: {targetRef: {kind: Service, name: reviews}, requestsPerSecond: 2, burst: 3}
        ---
        apiVersion: ferry.dev/v1alpha1
        kind: RateLimit
        metadata: {name: pod-2, namespace: demo}
        spec: {targetRef: {kind: WorkloadEntry, name: reviews-pod-2}, requestsPerSecond: 1}
        """)
        let limiter = LocalRateLimiter<TestInstant>()
        let first = try #require(state.workload(key: "demo/reviews-pod"))
        let second = try #require(state.workload(key: "demo/reviews-pod-2"))
        let ratings = try #require(state.workload(key: "demo/ratings-pod"))
        #expect((0..<10).filter { _ in limiter.admit(first, in: state, now: .zero) }.count == 3, "the Service's burst")
        #expect((0..<10).filter { _ in limiter.admit(second, in: state, now: .zero) }.count == 1, "its own limit")
        #expect((0..<10).allSatisfy { _ in limiter.admit(ratings, in: state, now: .zero) }, "no limit applies")
        #expect(limiter.admit(first, in: state, now: .at(.milliseconds(500))), "2/s: one token per 500 ms")
        #expect(!limiter.admit(first, in: state, now: .at(.milliseconds(600))))
        #expect(LocalRateLimiter<TestInstant>.responseFlag == "RL")
    }
}

@Suite struct FaultInjectorTests {
    static func rules(_ http: String) throws -> [FaultRule] {
        guard case .virtualService(let faults) = try ResourceDecoder.decode(yaml: """
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: faults, namespace: demo}
        spec:
          hosts: [ratings]
          http:
        \(http)
        """, file: "vs.yaml").first?.resource else { throw ResourceError(file: "vs.yaml", line: 0, message: "no VirtualService") }
        return faults.rules
    }

    @Test func delaysAndAbortsHappenAtTheirPercentagesIndependently() throws {
        let rules = try Self.rules("""
          - fault:
              delay: {fixedDelay: 2s, percentage: {value: 30}}
              abort: {httpStatus: 503, percentage: {value: 10.5}}
        """)
        var rng = SeededGenerator(seed: 99)
        var delayed = 0, aborted = 0, both = 0
        let draws = 100_000
        for _ in 0..<draws {
            let decision = FaultInjector.decide(request("/"), rules: rules, using: &rng)
            if decision.delay != nil { delayed += 1; #expect(decision.delay == .seconds(2)) }
            if decision.abortStatus != nil { aborted += 1; #expect(decision.abortStatus == 503) }
            if decision.delay != nil && decision.abortStatus != nil { both += 1 }
        }
        #expect(abs(Double(delayed) / Double(draws) - 0.30) <= 0.02)
        #expect(abs(Double(aborted) / Double(draws) - 0.105) <= 0.02)
        #expect(abs(Double(both) / Double(draws) - 0.0315) <= 0.02, "independent draws")
    }

    @Test func theFirstMatchingRuleDecidesEvenWithoutAFault() throws {
        let rules = try Self.rules("""
          - match:
            - headers: {end-user: {exact: jason}}
            fault: {abort: {httpStatus: 500, percentage: {value: 100}}}
          - match:
            - uri: {prefix: /health}
          - fault: {delay: {fixedDelay: 1s, percentage: {value: 100}}}
        """)
        var rng = SeededGenerator(seed: 1)
        #expect(FaultInjector.decide(request("/health", headers: ["end-user": "jason"]), rules: rules, using: &rng)
                == FaultInjector.Decision(abortStatus: 500))
        #expect(FaultInjector.decide(request("/healthz?x"), rules: rules, using: &rng) == .none, "the exempting rule matched first")
        #expect(FaultInjector.decide(request("/other", headers: ["end-user": "kim"]), rules: rules, using: &rng)
                == FaultInjector.Decision(delay: .seconds(1)))
        #expect(FaultInjector.Decision(delay: .seconds(1), abortStatus: 503).responseFlags == ["DI", "FI"])
        #expect(FaultInjector.decide(request("/"), rules: [], using: &rng) == .none)
    }

    @Test func zeroAndOneHundredPercentAreExact() throws {
        let rules = try Self.rules("""
          - fault:
              delay: {fixedDelay: 1s, percentage: {value: 0}}
              abort: {httpStatus: 418, percent: 100}
        """)
        var rng = SeededGenerator(seed: 5)
        for _ in 0..<10_000 {
            #expect(FaultInjector.decide(request("/"), rules: rules, using: &rng) == FaultInjector.Decision(abortStatus: 418))
        }
    }

    @Test func theRouteTableHandsOutTheServicesFaults() throws {
        let table = try Bookinfo.table("""
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: ratings-faults, namespace: demo}
        spec:
          hosts: [ratings]
          http:
          - fault: {abort: {httpStatus: 503, percentage: {value: 100}}}
            route: [{destination: {host: ratings}}]
        """)
        #expect(table.faults(for: table.service("ratings")).map { $0.abort?.httpStatus } == [503])
        #expect(table.faults(for: table.service("reviews")).isEmpty)
    }
}

@Suite struct PerDestinationTests {
    @Test func oneInstancePerKeyUntilPruned() {
        let breakers = PerDestination<CircuitBreaker>()
        let a = breakers.value(for: "demo/a:80") { CircuitBreaker(limits: ConnectionPoolSettings(maxRequests: 1)) }
        let again = breakers.value(for: "demo/a:80") { CircuitBreaker(limits: ConnectionPoolSettings()) }
        #expect(a === again)
        _ = breakers.value(for: "demo/b:80") { CircuitBreaker(limits: ConnectionPoolSettings()) }
        breakers.prune(keeping: ["demo/b:80"])
        #expect(breakers.count == 1)
        #expect(breakers.value(for: "demo/a:80") { CircuitBreaker(limits: ConnectionPoolSettings()) } !== a)
    }
}
