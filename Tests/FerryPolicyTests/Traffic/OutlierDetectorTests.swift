import FerryMesh
import FerryPolicy
import Testing

@Suite struct OutlierDetectorTests {
    typealias Detector = OutlierDetector<TestInstant>

    static let settings = OutlierDetectionSettings(consecutive5xxErrors: 5, consecutiveGatewayErrors: 0, interval: .seconds(10),
                                                   baseEjectionTime: .seconds(30), maxEjectionPercent: 100)

    /// Records `count` results at `at` and returns the last event.
    @discardableResult
    func fail(_ detector: Detector, _ endpoint: String, _ result: UpstreamResult = .response(status: 500), count: Int = 5,
              pool: Int = 10, at: Duration) -> Detector.Event? {
        var event: Detector.Event?
        for _ in 0..<count { event = detector.record(result, for: endpoint, poolSize: pool, now: .at(at)) }
        return event
    }

    @Test func fiveServerErrorsInARowEjectAndASuccessResetsTheCount() {
        let detector = Detector(settings: Self.settings)
        #expect(fail(detector, "a", count: 4, at: .zero) == nil)
        detector.record(.response(status: 200), for: "a", poolSize: 10, now: .zero)
        #expect(fail(detector, "a", count: 4, at: .zero) == nil, "the success broke the run")
        #expect(!detector.isEjected("a", now: .zero))
        #expect(detector.record(.connectFailure, for: "a", poolSize: 10, now: .zero) == .ejected(until: .at(.seconds(30)), count: 1),
                "a connect failure counts as a server error")
        #expect(detector.isEjected("a", now: .at(.seconds(29))))
        #expect(!detector.isEjected("b", now: .zero))
    }

    @Test func readmittedWhenTheTimePassesAndEjectedLongerEachTime() {
        let detector = Detector(settings: Self.settings)
        #expect(fail(detector, "a", at: .zero) == .ejected(until: .at(.seconds(30)), count: 1))
        #expect(detector.isEjected("a", now: .at(.milliseconds(29_999))))
        #expect(!detector.isEjected("a", now: .at(.seconds(30))), "back as soon as base × 1 has passed")
        #expect(fail(detector, "a", at: .seconds(31)) == .ejected(until: .at(.seconds(91)), count: 2), "base × 2")
        #expect(!detector.isEjected("a", now: .at(.seconds(91))))
        #expect(fail(detector, "a", at: .seconds(95)) == .ejected(until: .at(.seconds(185)), count: 3), "base × 3")
    }

    @Test func ejectionTimeIsCappedAtFiveMinutes() {
        let detector = Detector(settings: OutlierDetectionSettings(consecutive5xxErrors: 1, baseEjectionTime: .seconds(120),
                                                                   maxEjectionPercent: 100))
        var now = Duration.zero
        var lengths: [Duration] = []
        for _ in 0..<4 {
            guard case .ejected(let until, _) = detector.record(.reset, for: "a", poolSize: 2, now: .at(now)) else {
                Issue.record("not ejected")
                return
            }
            lengths.append(until.offset - now)
            now = until.offset
        }
        #expect(lengths == [.seconds(120), .seconds(240), .seconds(300), .seconds(300)])
    }

    @Test func gatewayErrorsCountOnlyBadGatewayUnavailableTimeoutAndConnectionFailures() {
        let detector = Detector(settings: OutlierDetectionSettings(consecutive5xxErrors: 0, consecutiveGatewayErrors: 3,
                                                                   maxEjectionPercent: 100))
        for status in [502, 503] { detector.record(.response(status: status), for: "a", poolSize: 4, now: .zero) }
        detector.record(.response(status: 500), for: "a", poolSize: 4, now: .zero)
        #expect(!detector.isEjected("a", now: .zero), "a 500 is not a gateway error and breaks the run")
        detector.record(.response(status: 504), for: "a", poolSize: 4, now: .zero)
        detector.record(.timeout, for: "a", poolSize: 4, now: .zero)
        #expect(detector.record(.connectFailure, for: "a", poolSize: 4, now: .zero) == .ejected(until: .at(.seconds(30)), count: 1))
        // consecutive5xxErrors: 0 turned the 5xx check off.
        #expect(fail(detector, "b", .response(status: 500), count: 50, pool: 4, at: .zero) == nil)
    }

    @Test func theMaxEjectionPercentCapsHowManyAreOut() {
        let detector = Detector(settings: OutlierDetectionSettings(consecutive5xxErrors: 5, maxEjectionPercent: 20))
        #expect(fail(detector, "a", at: .zero) == .ejected(until: .at(.seconds(30)), count: 1))
        #expect(fail(detector, "b", at: .zero) == .ejected(until: .at(.seconds(30)), count: 1))
        #expect(fail(detector, "c", at: .zero) == .capped, "a third of ten would be 30%")
        #expect(!detector.isEjected("c", now: .zero))
        // Once one is back, the next failure of c ejects it.
        #expect(detector.record(.response(status: 500), for: "c", poolSize: 10, now: .at(.seconds(30)))
                == .ejected(until: .at(.seconds(60)), count: 1))
    }

    @Test func istiosDefaultTenPercentNeverEjectsFromASmallPool() {
        let detector = Detector(settings: OutlierDetectionSettings())
        #expect(fail(detector, "a", count: 50, pool: 9, at: .zero) == .capped)
        #expect(detector.record(.response(status: 500), for: "a", poolSize: 10, now: .zero) == .ejected(until: .at(.seconds(30)), count: 1),
                "one of ten is 10%: allowed, on the next failure since the run was never reset")
    }

    @Test func resultsWhileEjectedDoNotCount() {
        let detector = Detector(settings: Self.settings)
        fail(detector, "a", at: .zero)
        #expect(fail(detector, "a", count: 20, at: .seconds(10)) == nil)
        #expect(detector.record(.response(status: 500), for: "a", poolSize: 10, now: .at(.seconds(30))) == nil,
                "back with a clean run: one failure is not five")
    }

    @Test func availableLeavesOutTheEjectedUnlessTooFewAreHealthy() {
        let pool = endpoints(4)
        let detector = Detector(settings: OutlierDetectionSettings(consecutive5xxErrors: 1, maxEjectionPercent: 100, minHealthPercent: 50))
        detector.record(.reset, for: pool[0].key, poolSize: 4, now: .zero)
        #expect(detector.available(pool, now: .zero) == Array(pool.dropFirst()))
        detector.record(.reset, for: pool[1].key, poolSize: 4, now: .zero)
        #expect(detector.available(pool, now: .zero) == Array(pool.dropFirst(2)), "2 of 4 healthy is 50%: still honoured")
        detector.record(.reset, for: pool[2].key, poolSize: 4, now: .zero)
        #expect(detector.available(pool, now: .zero) == pool, "below minHealthPercent the ejections are ignored")

        let strict = Detector(settings: OutlierDetectionSettings(consecutive5xxErrors: 1, maxEjectionPercent: 100))
        for endpoint in pool { strict.record(.reset, for: endpoint.key, poolSize: 4, now: .zero) }
        #expect(strict.available(pool, now: .zero) == pool, "with every endpoint out, all are used rather than none")
    }

    @Test func ticksAgeTheEjectionCountOfEndpointsThatStayHealthy() {
        let detector = Detector(settings: Self.settings)
        fail(detector, "a", at: .zero)
        fail(detector, "a", at: .seconds(30))
        #expect(detector.ejectionCount("a") == 2)
        detector.tick(now: .at(.seconds(40)))
        #expect(detector.ejectionCount("a") == 2, "still ejected: no aging")
        detector.tick(now: .at(.seconds(90)))
        #expect(detector.ejectionCount("a") == 2, "back at 90 s, not yet in for an interval")
        detector.tick(now: .at(.seconds(100)))
        #expect(detector.ejectionCount("a") == 1)
        detector.tick(now: .at(.seconds(110)))
        #expect(detector.ejectionCount("a") == 0)
        #expect(fail(detector, "a", at: .seconds(111)) == .ejected(until: .at(.seconds(141)), count: 1), "base time again")
    }
}

/// Whether `breaker` grants one unit of `resource`; it is given back at once.
private func granted(_ breaker: CircuitBreaker, _ resource: CircuitBreaker.Resource) -> Bool {
    hold(breaker, resource) != nil
}

/// A granted permit kept for later, or nil.
private func hold(_ breaker: CircuitBreaker, _ resource: CircuitBreaker.Resource) -> HeldPermit<CircuitBreaker.Permit>? {
    switch breaker.acquire(resource) {
    case .some(let permit): HeldPermit(permit)
    case .none: nil
    }
}

@Suite struct CircuitBreakerTests {
    @Test(arguments: CircuitBreaker.Resource.allCases)
    func acquiringPastALimitOverflowsUntilSomethingIsReleased(resource: CircuitBreaker.Resource) {
        let limits = ConnectionPoolSettings(maxConnections: 3, maxPendingRequests: 3, maxRequests: 3, maxRetries: 3)
        let breaker = CircuitBreaker(limits: limits)
        var held: [HeldPermit<CircuitBreaker.Permit>] = []
        for _ in 0..<3 {
            guard let permit = hold(breaker, resource) else { Issue.record("refused under the limit"); return }
            held.append(permit)
        }
        #expect(!granted(breaker, resource), "past the limit: an overflow")
        #expect(breaker.inUse(resource) == 3, "an overflow holds nothing")
        for other in CircuitBreaker.Resource.allCases where other != resource {
            #expect(granted(breaker, other), "limits are counted apart")
        }
        #expect(breaker.inUse(resource) == 3)
        held[0].release()
        held[0].release()
        #expect(breaker.inUse(resource) == 2, "a permit gives back once, however often it is released")
        #expect(granted(breaker, resource))
    }

    @Test func aDroppedPermitGivesItsUnitBack() {
        let breaker = CircuitBreaker(limits: ConnectionPoolSettings(maxRequests: 1))
        do {
            let permit = hold(breaker, .request)
            #expect(permit != nil && breaker.inUse(.request) == 1)
        }
        #expect(breaker.inUse(.request) == 0, "dropped at the end of its scope")
        if let permit = breaker.acquire(.request) { permit.release() }
        #expect(breaker.inUse(.request) == 0)
    }

    @Test func eachLimitReadsItsOwnSetting() {
        let breaker = CircuitBreaker(limits: ConnectionPoolSettings(maxConnections: 1, maxPendingRequests: 2, maxRequests: 3, maxRetries: 0))
        var held: [HeldPermit<CircuitBreaker.Permit>] = []
        func admitted(_ resource: CircuitBreaker.Resource) -> Int {
            var count = 0
            for _ in 0..<10 {
                if let permit = hold(breaker, resource) {
                    held.append(permit)
                    count += 1
                }
            }
            return count
        }
        #expect(admitted(.connection) == 1)
        #expect(admitted(.pendingRequest) == 2)
        #expect(admitted(.request) == 3)
        #expect(admitted(.retry) == 0)
        #expect(CircuitBreaker.overflowResponseFlag == "UO")
    }

    @Test func newLimitsKeepWhatIsHeld() {
        let breaker = CircuitBreaker(limits: ConnectionPoolSettings(maxRequests: 2))
        let first = hold(breaker, .request)
        let second = hold(breaker, .request)
        breaker.update(limits: ConnectionPoolSettings(maxRequests: 1))
        #expect(!granted(breaker, .request))
        first?.release()
        #expect(!granted(breaker, .request), "one still held: at the new limit")
        second?.release()
        #expect(granted(breaker, .request))
        #expect(granted(CircuitBreaker(limits: ConnectionPoolSettings()), .retry), "Istio's defaults do not limit")
    }
}
