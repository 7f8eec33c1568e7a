import FerryMesh
import Synchronization

/// Builds the route table once per snapshot generation, on first use, and keeps
/// the newest; the same scheme as `SecurityPolicyCache`. Callers of the cached
/// generation take one short lock; callers that miss queue on a second lock so
/// a new snapshot is compiled once however many requests arrive with it.
public final class HTTPRouteTableCache: Sendable {
    private let newest = Mutex<HTTPRouteTable?>(nil)
    private let building = Mutex<Void>(())

    public init() {}

    public func table(for state: MeshState) -> HTTPRouteTable {
        if let cached = cached(state.generation) { return cached }
        return building.withLock { _ in
            if let cached = cached(state.generation) { return cached }
            let built = HTTPRouteTable(state: state)
            newest.withLock { current in
                if (current?.generation ?? Int.min) < built.generation { current = built }
            }
            return built
        }
    }

    private func cached(_ generation: Int) -> HTTPRouteTable? {
        newest.withLock { current in current?.generation == generation ? current : nil }
    }
}
