import FerryMesh
import Synchronization

/// The security engines of one MeshState snapshot.
public struct SecurityPolicies: Sendable {
    public let generation: Int
    public let authorizer: Authorizer
    public let peerAuthentication: PeerAuthenticationResolver

    public init(state: MeshState) {
        generation = state.generation
        authorizer = Authorizer(state: state)
        peerAuthentication = PeerAuthenticationResolver(state: state)
    }
}

/// Builds the engines once per snapshot generation, on first use, and keeps the
/// newest. They live here rather than in MeshState because they are FerryPolicy's
/// compiled form (FerryMesh sits below it) and because tools that never decide
/// (ferryctl, the admin API) should not pay for them.
///
/// Callers of the cached generation take one short lock. Callers that miss
/// queue on a second lock, so a new snapshot is built once however many
/// connections arrive with it; a caller still holding an older snapshot gets
/// engines built for it without displacing the newest.
public final class SecurityPolicyCache: Sendable {
    private let newest = Mutex<SecurityPolicies?>(nil)
    private let building = Mutex<Void>(())

    public init() {}

    public func policies(for state: MeshState) -> SecurityPolicies {
        if let cached = cached(state.generation) { return cached }
        return building.withLock { _ in
            if let cached = cached(state.generation) { return cached }
            let built = SecurityPolicies(state: state)
            newest.withLock { current in
                if (current?.generation ?? Int.min) < built.generation { current = built }
            }
            return built
        }
    }

    private func cached(_ generation: Int) -> SecurityPolicies? {
        newest.withLock { current in current?.generation == generation ? current : nil }
    }
}
