import FerryMesh
import Synchronization

/// Requests in flight per endpoint, for LEAST_REQUEST: call `begin` when a
/// request is sent to an endpoint and `end` when its response is complete or
/// it failed, and hand `count` to `EndpointBalancer.pick` as `inFlight`.
public final class InFlightRequests: Sendable {
    private let counts = Mutex<[IPEndpoint: Int]>([:])

    public init() {}

    public func begin(_ endpoint: UpstreamEndpoint) {
        counts.withLock { $0[endpoint.address, default: 0] += 1 }
    }

    public func end(_ endpoint: UpstreamEndpoint) {
        counts.withLock { counts in
            let left = counts[endpoint.address, default: 0] - 1
            precondition(left >= 0, "InFlightRequests: \(endpoint.key) ended more often than begun")
            counts[endpoint.address] = left == 0 ? nil : left
        }
    }

    public func count(_ endpoint: UpstreamEndpoint) -> Int {
        counts.withLock { $0[endpoint.address, default: 0] }
    }
}
