import FerryIdentity
import Synchronization
import Testing

@Suite struct CachedBearerAuthenticatorTests {
    /// Answers from a table after a pause, counting what it is asked.
    final class SlowReviewer: BearerAuthenticator {
        let asked = Atomic<Int>(0)
        let answers: [String: Result<BearerCaller, BearerRefusal>]
        init(_ answers: [String: Result<BearerCaller, BearerRefusal>]) { self.answers = answers }

        func authenticate(token: String) async -> Result<BearerCaller, BearerRefusal> {
            asked.wrappingAdd(1, ordering: .relaxed)
            try? await Task.sleep(for: .milliseconds(50))
            return answers[token] ?? .failure(BearerRefusal(.unauthenticated, "no such token"))
        }
    }

    static let agent = BearerCaller(node: "node-a", description: "service account ferry-system/ferry-agent")
    static func reviewer() -> SlowReviewer {
        SlowReviewer(["good": .success(agent), "down": .failure(BearerRefusal(.unavailable, "no API server"))])
    }

    @Test func manyRequestsWithOneTokenAreOneReview() async {
        let reviewer = Self.reviewer()
        let clock = ManualClock()
        let cache = CachedBearerAuthenticator(reviewer, ttl: .seconds(60), clock: clock)
        let results = await withTaskGroup(of: Result<BearerCaller, BearerRefusal>.self) { group in
            for _ in 0..<100 { group.addTask { await cache.authenticate(token: "good") } }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results.count == 100 && results.allSatisfy { $0 == .success(Self.agent) })
        #expect(reviewer.asked.load(ordering: .relaxed) == 1)
    }

    @Test func anAcceptedTokenIsReviewedAgainAfterTheTTL() async {
        let reviewer = Self.reviewer()
        let clock = ManualClock()
        let cache = CachedBearerAuthenticator(reviewer, ttl: .seconds(60), clock: clock)
        _ = await cache.authenticate(token: "good")
        clock.advance(by: .seconds(59))
        _ = await cache.authenticate(token: "good")
        #expect(reviewer.asked.load(ordering: .relaxed) == 1)
        clock.advance(by: .seconds(2))
        #expect(await cache.authenticate(token: "good") == .success(Self.agent))
        #expect(reviewer.asked.load(ordering: .relaxed) == 2)
    }

    @Test func refusalsAreNeverRemembered() async {
        let reviewer = Self.reviewer()
        let cache = CachedBearerAuthenticator(reviewer, clock: ManualClock())
        for token in ["down", "down", "stranger", "stranger"] {
            #expect(await cache.authenticate(token: token) != .success(Self.agent))
        }
        #expect(reviewer.asked.load(ordering: .relaxed) == 4)
    }

    @Test func aFullCacheMakesRoomAndStillAnswers() async {
        let answers = Dictionary(uniqueKeysWithValues: (0..<5).map { ("t\($0)", Result<BearerCaller, BearerRefusal>.success(Self.agent)) })
        let reviewer = SlowReviewer(answers)
        let cache = CachedBearerAuthenticator(reviewer, capacity: 3, clock: ManualClock())
        for index in 0..<5 { #expect(await cache.authenticate(token: "t\(index)") == .success(Self.agent)) }
        _ = await cache.authenticate(token: "t4")
        #expect(reviewer.asked.load(ordering: .relaxed) == 5)
    }
}
