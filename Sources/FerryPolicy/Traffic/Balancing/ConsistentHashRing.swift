/// A hash ring with virtual nodes (Envoy's ring hash): each endpoint owns
/// points hash("ip:port#i"); a key goes to the first point at or after its
/// hash, wrapping around. Adding or removing one endpoint moves only the keys
/// on its points, about 1/n of them.
///
/// The points per endpoint are minimumRingSize / n rounded up to a power of
/// two, so they change only when the pool crosses a power of two; a fixed
/// count is what keeps every other endpoint's points where they were.
/// Ejected endpoints stay on the ring and are skipped when picking, so an
/// ejection moves only the keys of the ejected endpoint.
struct ConsistentHashRing: Sendable {
    /// Sorted by hash; the value is an index into `endpoints`.
    private let points: [(hash: UInt64, endpoint: Int)]
    let endpoints: [UpstreamEndpoint]
    let minimumRingSize: Int

    init(endpoints: [UpstreamEndpoint], minimumRingSize: Int) {
        self.endpoints = endpoints
        self.minimumRingSize = minimumRingSize
        guard !endpoints.isEmpty else { points = []; return }
        let wanted = max(1, (minimumRingSize + endpoints.count - 1) / endpoints.count)
        let perEndpoint = 1 << (Int.bitWidth - (wanted - 1).leadingZeroBitCount)  // next power of two ≥ wanted
        var points: [(hash: UInt64, endpoint: Int)] = []
        points.reserveCapacity(perEndpoint * endpoints.count)
        for (index, endpoint) in endpoints.enumerated() {
            for replica in 0..<perEndpoint { points.append((StableHash.hash("\(endpoint.key)#\(replica)"), index)) }
        }
        // Ties (vanishingly rare) break by address so every agent builds the same ring.
        self.points = points.sorted { ($0.hash, endpoints[$0.endpoint].key) < ($1.hash, endpoints[$1.endpoint].key) }
    }

    var pointsPerEndpoint: Int { endpoints.isEmpty ? 0 : points.count / endpoints.count }

    /// The endpoint owning `hash`, walking past those `isAvailable` refuses.
    /// nil when none is available.
    func pick(_ hash: UInt64, isAvailable: (UpstreamEndpoint) -> Bool) -> UpstreamEndpoint? {
        guard !points.isEmpty else { return nil }
        var low = 0, high = points.count
        while low < high {
            let mid = (low + high) / 2
            if points[mid].hash < hash { low = mid + 1 } else { high = mid }
        }
        var tried = Set<Int>()
        for step in 0..<points.count {
            let index = points[(low + step) % points.count].endpoint
            guard tried.insert(index).inserted else { continue }
            if isAvailable(endpoints[index]) { return endpoints[index] }
            if tried.count == endpoints.count { break }
        }
        return nil
    }
}
