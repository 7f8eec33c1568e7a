import FerryMesh
import Synchronization

/// Requests in flight per endpoint, for LEAST_REQUEST: `begin` when a request
/// is sent to an endpoint gives a permit that counts it until the response is
/// complete or has failed (the permit released or dropped); hand `count` to
/// `EndpointBalancer.pick` as `inFlight`.
public final class InFlightRequests: Sendable {
    private let counts = Mutex<[IPEndpoint: Int]>([:])

    public init() {}

    public func begin(_ endpoint: UpstreamEndpoint) -> Permit {
        counts.withLock { $0[endpoint.address, default: 0] += 1 }
        return Permit(requests: self, address: endpoint.address)
    }

    public func count(_ endpoint: UpstreamEndpoint) -> Int {
        counts.withLock { $0[endpoint.address, default: 0] }
    }

    /// One request counted against its endpoint, exactly once.
    public struct Permit: ~Copyable, Sendable {
        let requests: InFlightRequests
        let address: IPEndpoint

        /// The request is over (dropping the permit says the same).
        public consuming func end() {}

        deinit { requests.ended(address) }
    }

    private func ended(_ address: IPEndpoint) {
        counts.withLock { counts in
            let left = counts[address, default: 0] - 1
            counts[address] = left <= 0 ? nil : left
        }
    }
}
