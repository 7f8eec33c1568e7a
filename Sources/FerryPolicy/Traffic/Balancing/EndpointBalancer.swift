import FerryMesh
import Synchronization

/// Picks the endpoint for each request to a destination with the policy its
/// DestinationRule names. One balancer serves every destination; it keeps
/// what must outlive a request: round-robin cursors and hash rings.
///
/// - ROUND_ROBIN: in turn, over the available endpoints.
/// - RANDOM: uniformly.
/// - LEAST_REQUEST: power of two choices (Envoy's default choice count): two
///   distinct endpoints at random, the one with fewer requests in flight.
/// - consistentHash: a ring over all the destination's endpoints, keyed by a
///   header, the source IP or a query parameter; a request without the key
///   gets a random endpoint, as in Envoy.
///
/// "Available" is the caller's: pass the outlier detector's verdict. When no
/// endpoint is available the balancer uses them all rather than failing.
public final class EndpointBalancer: Sendable {
    private let cursors = Mutex<[String: Int]>([:])
    private let rings = Mutex<[String: ConsistentHashRing]>([:])

    public init() {}

    /// - Parameters:
    ///   - endpoints: every endpoint of the destination (from `HTTPRouteTable.endpoints(of:)`).
    ///   - destination: `RouteBackend.destinationKey`.
    ///   - isAvailable: false for endpoints to avoid (ejected).
    ///   - inFlight: requests in flight to an endpoint (LEAST_REQUEST only).
    public func pick<R: RandomNumberGenerator>(
        from endpoints: [UpstreamEndpoint], policy: LoadBalancerSettings, destination: String,
        request: HTTPRequestInfo, isAvailable: (UpstreamEndpoint) -> Bool = { _ in true },
        inFlight: (UpstreamEndpoint) -> Int = { _ in 0 }, using rng: inout R
    ) -> UpstreamEndpoint? {
        guard !endpoints.isEmpty else { return nil }
        if case .consistentHash(let settings) = policy {
            if let hash = Self.hashKey(settings.key, request) {
                let ring = ring(for: destination, endpoints: endpoints, minimumRingSize: settings.minimumRingSize)
                return ring.pick(hash, isAvailable: isAvailable) ?? ring.pick(hash) { _ in true }
            }
        }
        var candidates = endpoints.filter(isAvailable)
        if candidates.isEmpty { candidates = endpoints }
        switch policy {
        case .roundRobin:
            let turn = cursors.withLock { cursors in
                defer { cursors[destination, default: 0] &+= 1 }
                return cursors[destination, default: 0]
            }
            // The cursor wraps after 2^64 picks; read it unsigned so it never goes negative.
            return candidates[Int(UInt(bitPattern: turn) % UInt(candidates.count))]
        case .leastRequest:
            return PowerOfTwoChoices.pick(candidates, inFlight: inFlight, using: &rng)
        case .random, .consistentHash:
            return candidates.randomElement(using: &rng)
        }
    }

    /// The request's hash key, or nil when it does not carry one.
    static func hashKey(_ key: ConsistentHashSettings.Key, _ request: HTTPRequestInfo) -> UInt64? {
        switch key {
        case .header(let name): request.headers[name].map { StableHash.hash($0) }
        case .queryParameter(let name): request.queryParameter(name).map { StableHash.hash($0.utf8) }
        case .sourceIP: StableHash.hash(request.sourceIP?.byteArray ?? [])
        }
    }

    /// The destination's ring, rebuilt only when its endpoints change.
    private func ring(for destination: String, endpoints: [UpstreamEndpoint], minimumRingSize: Int) -> ConsistentHashRing {
        rings.withLock { rings in
            if let ring = rings[destination], ring.minimumRingSize == minimumRingSize, ring.endpoints == endpoints {
                return ring
            }
            let ring = ConsistentHashRing(endpoints: endpoints, minimumRingSize: minimumRingSize)
            rings[destination] = ring
            return ring
        }
    }
}

/// Power of two choices: two distinct endpoints chosen uniformly at random,
/// the one with fewer requests in flight wins (the first on a tie). Nearly
/// as good as scanning for the least loaded, without herding every client
/// onto the same one.
enum PowerOfTwoChoices {
    static func pick<R: RandomNumberGenerator>(_ endpoints: [UpstreamEndpoint], inFlight: (UpstreamEndpoint) -> Int,
                                               using rng: inout R) -> UpstreamEndpoint? {
        guard endpoints.count > 1 else { return endpoints.first }
        let first = Int.random(in: 0..<endpoints.count, using: &rng)
        var second = Int.random(in: 0..<(endpoints.count - 1), using: &rng)
        if second >= first { second += 1 }
        return inFlight(endpoints[second]) < inFlight(endpoints[first]) ? endpoints[second] : endpoints[first]
    }
}
