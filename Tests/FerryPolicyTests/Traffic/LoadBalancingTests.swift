import FerryMesh
import FerryPolicy
import Testing

@Suite struct LoadBalancingTests {
    let anyRequest = request("/")

    func pick(_ balancer: EndpointBalancer, _ pool: [UpstreamEndpoint], _ policy: LoadBalancerSettings,
              request: HTTPRequestInfo? = nil, isAvailable: (UpstreamEndpoint) -> Bool = { _ in true },
              inFlight: (UpstreamEndpoint) -> Int = { _ in 0 }, rng: inout SeededGenerator) -> UpstreamEndpoint? {
        balancer.pick(from: pool, policy: policy, destination: "demo/reviews:9080", request: request ?? anyRequest,
                      isAvailable: isAvailable, inFlight: inFlight, using: &rng)
    }

    @Test func roundRobinTakesTurnsOverTheAvailableEndpoints() {
        let pool = endpoints(4)
        let balancer = EndpointBalancer()
        var rng = SeededGenerator(seed: 1)
        let picks = (0..<8).map { _ in pick(balancer, pool, .roundRobin, rng: &rng)!.key }
        #expect(picks == (pool + pool).map(\.key))
        let ejected = pool[1].key
        let skipping = (0..<6).compactMap { _ in pick(balancer, pool, .roundRobin, isAvailable: { $0.key != ejected }, rng: &rng)?.key }
        #expect(!skipping.contains(ejected))
        #expect(Set(skipping).count == 3)
    }

    @Test func randomIsUniform() {
        let pool = endpoints(5)
        let balancer = EndpointBalancer()
        var rng = SeededGenerator(seed: 2)
        var counts: [String: Int] = [:]
        for _ in 0..<50_000 { counts[pick(balancer, pool, .random, rng: &rng)!.key, default: 0] += 1 }
        #expect(counts.count == 5)
        #expect(counts.values.allSatisfy { abs(Double($0) / 50_000 - 0.2) <= 0.01 })
    }

    @Test func powerOfTwoChoicesPrefersTheLessLoaded() {
        let pool = endpoints(10)
        // Endpoint i has i requests in flight.
        let load = Dictionary(uniqueKeysWithValues: pool.enumerated().map { ($1.key, $0) })
        let balancer = EndpointBalancer()
        var rng = SeededGenerator(seed: 3)
        var counts = [Int](repeating: 0, count: 10)
        let picks = 100_000
        for _ in 0..<picks {
            let chosen = pick(balancer, pool, .leastRequest, inFlight: { load[$0.key]! }, rng: &rng)!
            counts[load[chosen.key]!] += 1
        }
        // The busiest loses every pair; the idlest wins every pair it is in:
        // P = 1 - (9/10 × 8/9) = 0.2, twice a uniform pick's share.
        #expect(counts[9] == 0)
        #expect(abs(Double(counts[0]) / Double(picks) - 0.2) <= 0.01)
        #expect(zip(counts, counts.dropFirst()).allSatisfy { $0 > $1 }, "the less loaded, the more picks: \(counts)")
    }

    @Test func inFlightCountsFeedLeastRequest() {
        let pool = endpoints(2)
        let inFlight = InFlightRequests()
        let balancer = EndpointBalancer()
        var rng = SeededGenerator(seed: 10)
        let first = inFlight.begin(pool[0])
        let second = inFlight.begin(pool[0])
        let other = inFlight.begin(pool[1])
        #expect(pick(balancer, pool, .leastRequest, inFlight: inFlight.count, rng: &rng) == pool[1])
        first.end()
        second.end()
        #expect(inFlight.count(pool[0]) == 0)
        #expect(inFlight.count(pool[1]) == 1)
        _ = consume other
        #expect(pick(balancer, pool, .leastRequest, inFlight: inFlight.count, rng: &rng) == pool[0])
    }

    @Test func powerOfTwoChoicesWithTwoEndpointsAlwaysTakesTheIdleOne() {
        let pool = endpoints(2)
        let balancer = EndpointBalancer()
        var rng = SeededGenerator(seed: 4)
        for _ in 0..<100 {
            #expect(pick(balancer, pool, .leastRequest, inFlight: { $0.key == pool[1].key ? 0 : 5 }, rng: &rng) == pool[1])
        }
    }

    @Test func withNoEndpointAvailableAllAreUsedRatherThanNone() {
        let pool = endpoints(3)
        var rng = SeededGenerator(seed: 5)
        #expect(pick(EndpointBalancer(), pool, .random, isAvailable: { _ in false }, rng: &rng) != nil)
        #expect(pick(EndpointBalancer(), [], .random, rng: &rng) == nil)
    }

    static let byUser = LoadBalancerSettings.consistentHash(ConsistentHashSettings(key: .header("x-user")))

    func owners(_ pool: [UpstreamEndpoint], keys: Range<Int>, isAvailable: (UpstreamEndpoint) -> Bool = { _ in true }) -> [String] {
        let balancer = EndpointBalancer()
        var rng = SeededGenerator(seed: 6)
        return keys.map { key in
            pick(balancer, pool, Self.byUser, request: request("/", headers: ["x-user": "user-\(key)"]), isAvailable: isAvailable,
                 rng: &rng)!.key
        }
    }

    @Test func consistentHashSendsAKeyToTheSameEndpointAndSpreadsKeys() {
        let pool = endpoints(10)
        let first = owners(pool, keys: 0..<20_000)
        #expect(first == owners(pool, keys: 0..<20_000), "stable across balancers and draws")
        let shares = Dictionary(grouping: first, by: { $0 }).mapValues { Double($0.count) / 20_000 }
        #expect(shares.count == 10)
        #expect(shares.values.allSatisfy { (0.05...0.15).contains($0) }, "\(shares)")
    }

    @Test func consistentHashIsStableWhenOtherEndpointsComeAndGo() {
        let pool = endpoints(10)
        let before = owners(pool, keys: 0..<20_000)

        // One endpoint joins: only keys it takes over move, about 1/11 of them.
        let grown = pool + endpoints(1, base: 10)
        let afterJoin = owners(grown, keys: 0..<20_000)
        let moved = zip(before, afterJoin).filter { $0 != $1 }
        #expect(moved.allSatisfy { $0.1 == grown[10].key }, "keys move only to the newcomer")
        #expect(Double(moved.count) / 20_000 <= 0.13, "moved \(moved.count)")

        // One endpoint leaves: only its own keys move.
        let shrunk = Array(pool.dropFirst(1) + [])
        let afterLeave = owners(shrunk, keys: 0..<20_000)
        for (old, new) in zip(before, afterLeave) where old != pool[0].key {
            #expect(old == new)
        }

        // An ejected endpoint stays on the ring and is stepped over.
        let afterEjection = owners(pool, keys: 0..<20_000, isAvailable: { $0.key != pool[3].key })
        for (old, new) in zip(before, afterEjection) {
            if old == pool[3].key { #expect(new != old) } else { #expect(new == old) }
        }
    }

    @Test func consistentHashBySourceIPAndWithoutAKey() {
        let pool = endpoints(8)
        let balancer = EndpointBalancer()
        var rng = SeededGenerator(seed: 8)
        let bySource = LoadBalancerSettings.consistentHash(ConsistentHashSettings(key: .sourceIP))
        for client in 1...50 {
            let request = request("/", sourceIP: "10.9.0.\(client)")
            let picks = Set((0..<5).map { _ in pick(balancer, pool, bySource, request: request, rng: &rng)!.key })
            #expect(picks.count == 1)
        }
        // No header to hash: Envoy picks at random.
        let unkeyed = Set((0..<200).map { _ in pick(balancer, pool, Self.byUser, rng: &rng)!.key })
        #expect(unkeyed.count == 8)
    }

    @Test func consistentHashByQueryParameter() {
        let pool = endpoints(8)
        let balancer = EndpointBalancer()
        var rng = SeededGenerator(seed: 9)
        let byCart = LoadBalancerSettings.consistentHash(ConsistentHashSettings(key: .queryParameter("cart")))
        let a = pick(balancer, pool, byCart, request: request("/add?cart=42&item=1"), rng: &rng)
        let b = pick(balancer, pool, byCart, request: request("/pay?cart=42"), rng: &rng)
        #expect(a == b)
    }
}
