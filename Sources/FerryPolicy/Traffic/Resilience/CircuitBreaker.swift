import FerryMesh
import Synchronization

/// Istio's connectionPool limits for one destination, as Envoy's circuit
/// breakers count them: connections open, requests waiting for a connection,
/// requests in flight and retries in flight. Acquiring past a limit is an
/// overflow, which the proxy answers with 503 and response flag UO, without
/// queueing. What is held is a `Permit`, given back when it ends.
public final class CircuitBreaker: Sendable {
    public enum Resource: String, Sendable, CaseIterable {
        case connection
        case pendingRequest
        case request
        case retry
    }

    /// Envoy's response flag for an upstream overflow.
    public static let overflowResponseFlag = "UO"

    private struct State {
        var limits: ConnectionPoolSettings
        var inUse: [Resource: Int] = [:]
    }

    private let state: Mutex<State>

    public init(limits: ConnectionPoolSettings) {
        state = Mutex(State(limits: limits))
    }

    /// New limits apply to the next acquire; what is held stays held.
    public func update(limits: ConnectionPoolSettings) {
        state.withLock { $0.limits = limits }
    }

    /// One unit of `resource`, or nil past its limit (an overflow). The unit
    /// is given back exactly once, when the permit is released or dropped:
    /// the compiler holds the books, so a slip can neither leak a unit nor
    /// give one back twice.
    public func acquire(_ resource: Resource) -> Permit? {
        let taken = state.withLock { state in
            let used = state.inUse[resource, default: 0]
            guard used < Self.limit(resource, state.limits) else { return false }
            state.inUse[resource] = used + 1
            return true
        }
        return taken ? Permit(breaker: self, resource: resource) : nil
    }

    /// A held unit of one resource.
    public struct Permit: ~Copyable, Sendable {
        let breaker: CircuitBreaker
        public let resource: Resource

        /// Gives the unit back now (dropping the permit does the same).
        public consuming func release() {}

        deinit { breaker.giveBack(resource) }
    }

    private func giveBack(_ resource: Resource) {
        state.withLock { state in
            // Permits give back once each, so the count never goes below zero.
            let used = state.inUse[resource, default: 0]
            state.inUse[resource] = max(0, used - 1)
        }
    }

    public func inUse(_ resource: Resource) -> Int {
        state.withLock { $0.inUse[resource, default: 0] }
    }

    static func limit(_ resource: Resource, _ limits: ConnectionPoolSettings) -> Int {
        switch resource {
        case .connection: limits.maxConnections
        case .pendingRequest: limits.maxPendingRequests
        case .request: limits.maxRequests
        case .retry: limits.maxRetries
        }
    }
}
